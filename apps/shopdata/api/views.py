"""Shop data upserts (API.md, shop data): PUT by external id, idempotent; and the visits the
shop's systems push (SPEC E3)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm
from apps.accounts.permissions import Perm
from apps.integrations.authentication import KEY_OR_STAFF, IsApiKey
from apps.shopdata import selectors, services
from apps.shopdata.api.serializers import (
    AfterSaleSerializer,
    AfterSaleUpsertSerializer,
    BuyerSerializer,
    BuyerUpsertSerializer,
    OrderSerializer,
    OrderUpsertSerializer,
    ProductSerializer,
    ProductUpsertSerializer,
    VisitCreateSerializer,
    VisitSerializer,
)
from apps.shopdata.models import AfterSale, Buyer, Order, Product, VisitSource

# API.md, shop data: an API key of the shop (SPEC H2), or the main account or manage_settings.
INTEGRATION = [IsApiKey | HasShopPerm.of(Perm.MANAGE_SETTINGS)]


def _answer(data: dict[str, Any], created: bool) -> Response:
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class _Upsert(APIView):
    authentication_classes = KEY_OR_STAFF
    permission_classes = INTEGRATION
    tenant_lookup = "upsert"


def _upsert_schema(request: type[Any], answer: type[Any]) -> Any:
    return extend_schema(
        request=request,
        responses={200: answer, 201: answer},
        description="Idempotent upsert by external id: 201 when created, 200 when updated.",
    )


class BuyerUpsertView(_Upsert):
    tenant_model = Buyer

    @_upsert_schema(BuyerUpsertSerializer, BuyerSerializer)
    def put(self, request: Request, external_id: str) -> Response:
        data = BuyerUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        buyer, created = services.buyer_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            **data.validated_data,
        )
        return _answer(BuyerSerializer(buyer).data, created)


class ProductUpsertView(_Upsert):
    tenant_model = Product

    @_upsert_schema(ProductUpsertSerializer, ProductSerializer)
    def put(self, request: Request, external_id: str) -> Response:
        data = ProductUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product, created = services.product_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            **data.validated_data,
        )
        return _answer(ProductSerializer(product).data, created)


class OrderUpsertView(_Upsert):
    tenant_model = Order

    @_upsert_schema(OrderUpsertSerializer, OrderSerializer)
    def put(self, request: Request, external_id: str) -> Response:
        data = OrderUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = services.order_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            **data.validated_data,
        )
        return _answer(OrderSerializer(order).data, created)


class AfterSaleUpsertView(_Upsert):
    """SPEC E5, H2: an after-sales record by external id."""

    tenant_model = AfterSale
    tenant_probe_body = {
        "order": "isolation-order",
        "buyer": "isolation-buyer",
        "type": "refund_only",
        "status": "isolation-probe",
        "amount": "1.00",
    }

    @_upsert_schema(AfterSaleUpsertSerializer, AfterSaleSerializer)
    def put(self, request: Request, external_id: str) -> Response:
        data = AfterSaleUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, created = services.after_sale_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            fields=services.AfterSaleFields(**data.validated_data),
        )
        return _answer(dict(selectors.after_sale_card(row)), created)


class BuyerVisitView(APIView):
    """SPEC E3: a visit of a buyer the shop pushed (a widget session start counts as one too)."""

    authentication_classes = KEY_OR_STAFF
    permission_classes = INTEGRATION
    tenant_model = Buyer
    tenant_probe_body = {"page": "isolation-probe"}

    @extend_schema(request=VisitCreateSerializer, responses={201: VisitSerializer})
    def post(self, request: Request, external_id: str) -> Response:
        buyer = selectors.buyer_get(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
        )
        data = VisitCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        visit = services.visit_record(
            buyer=buyer,
            source=VisitSource.API,
            at=data.validated_data["at"],
            page=data.validated_data["page"],
        )
        return Response(
            {
                "buyer": buyer.external_id,
                "at": visit.at.isoformat(),
                "page": visit.page,
                "source": visit.source,
            },
            status=status.HTTP_201_CREATED,
        )
