"""Shop data upserts (API.md, shop data): PUT by external id, idempotent."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HasShopPerm, Perm
from apps.shopdata import services
from apps.shopdata.api.serializers import (
    BuyerUpsertSerializer,
    OrderUpsertSerializer,
    ProductUpsertSerializer,
)
from apps.shopdata.models import Buyer, Order, Product


def _answer(data: dict[str, Any], created: bool) -> Response:
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class _Upsert(APIView):
    # API keys come with the integration issue; until then the main account or manage_settings.
    permission_classes = [HasShopPerm.of(Perm.MANAGE_SETTINGS)]
    tenant_lookup = "upsert"


class BuyerUpsertView(_Upsert):
    tenant_model = Buyer

    @extend_schema(request=BuyerUpsertSerializer, responses={200: dict, 201: dict})
    def put(self, request: Request, external_id: str) -> Response:
        data = BuyerUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        buyer, created = services.buyer_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            **data.validated_data,
        )
        return _answer(
            {
                "external_id": buyer.external_id,
                "name": buyer.name,
                "segments": buyer.segments,
                "channel": buyer.channel,
            },
            created,
        )


class ProductUpsertView(_Upsert):
    tenant_model = Product

    @extend_schema(request=ProductUpsertSerializer, responses={200: dict, 201: dict})
    def put(self, request: Request, external_id: str) -> Response:
        data = ProductUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product, created = services.product_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            **data.validated_data,
        )
        return _answer(
            {
                "external_id": product.external_id,
                "name": product.name,
                "category": product.category,
            },
            created,
        )


class OrderUpsertView(_Upsert):
    tenant_model = Order

    @extend_schema(request=OrderUpsertSerializer, responses={200: dict, 201: dict})
    def put(self, request: Request, external_id: str) -> Response:
        data = OrderUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = services.order_upsert(
            shop_id=request.user.shop_id,  # type: ignore[union-attr]
            external_id=external_id,
            **data.validated_data,
        )
        return _answer(
            {
                "external_id": order.external_id,
                "buyer": order.buyer.external_id,
                "status": order.status,
                "amount": str(order.amount),
                "shipping_fee": str(order.shipping_fee),
                "items": order.items,
                "paid_at": order.paid_at.isoformat() if order.paid_at else None,
                "created_at": order.created_at.isoformat(),
            },
            created,
        )
