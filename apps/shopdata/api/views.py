"""Shop data upserts (API.md, shop data): PUT by external id, idempotent."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm
from apps.accounts.permissions import Perm
from apps.shopdata import services
from apps.shopdata.api.serializers import (
    BuyerSerializer,
    BuyerUpsertSerializer,
    OrderSerializer,
    OrderUpsertSerializer,
    ProductSerializer,
    ProductUpsertSerializer,
)
from apps.shopdata.models import Buyer, Order, Product


def _answer(data: dict[str, Any], created: bool) -> Response:
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class _Upsert(APIView):
    # API keys come with the integration issue; until then the main account or manage_settings.
    permission_classes = [HasShopPerm.of(Perm.MANAGE_SETTINGS)]
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
