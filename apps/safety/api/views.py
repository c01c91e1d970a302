"""SPEC I6's lists over REST (API.md, "Safety"): the shop's sensitive words and its blocked
buyers. The main account or ``manage_settings``; another shop's entry answers 404."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm
from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.core.pagination import PAGE_PARAMETERS, Pagination
from apps.safety import selectors, services
from apps.safety.api.serializers import (
    BuyerBlockPageSerializer,
    BuyerBlockSerializer,
    SensitiveWordPageSerializer,
    SensitiveWordSerializer,
    SensitiveWordUpdateSerializer,
)
from apps.safety.models import BuyerBlock, SensitiveWord

MANAGE_SETTINGS = HasShopPerm.of(Perm.MANAGE_SETTINGS)


def _actor(request: Request) -> Account:
    return request.user  # type: ignore[return-value]


def _page(request: Request, view: APIView, rows: Any, shape: Any) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    assert page is not None
    return paginator.get_paginated_response([shape(row) for row in page])


class SensitiveWordListView(APIView):
    permission_classes = [MANAGE_SETTINGS]

    @extend_schema(
        operation_id="v1_sensitive_words_list",
        parameters=PAGE_PARAMETERS,
        responses=SensitiveWordPageSerializer,
    )
    def get(self, request: Request) -> Response:
        rows = selectors.sensitive_words_of(shop_id=_actor(request).shop_id)
        return _page(request, self, rows, services.word_data)

    @extend_schema(request=SensitiveWordSerializer, responses={201: SensitiveWordSerializer})
    def post(self, request: Request) -> Response:
        data = SensitiveWordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        word = services.sensitive_word_add(actor=_actor(request), **data.validated_data)
        return Response(services.word_data(word), status=status.HTTP_201_CREATED)


class SensitiveWordDetailView(APIView):
    permission_classes = [MANAGE_SETTINGS]
    tenant_model = SensitiveWord
    tenant_probe_body = {"word": "isolation-probe", "action": "block"}

    @extend_schema(responses=SensitiveWordSerializer)
    def get(self, request: Request, pk: int) -> Response:
        word = selectors.sensitive_word_get(shop_id=_actor(request).shop_id, word_id=pk)
        return Response(services.word_data(word))

    @extend_schema(request=SensitiveWordUpdateSerializer, responses=SensitiveWordSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        selectors.sensitive_word_get(shop_id=_actor(request).shop_id, word_id=pk)  # 404 first
        data = SensitiveWordUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        word = services.sensitive_word_update(
            actor=_actor(request), word_id=pk, **data.validated_data
        )
        return Response(services.word_data(word))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.sensitive_word_delete(actor=_actor(request), word_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BuyerBlockListView(APIView):
    permission_classes = [MANAGE_SETTINGS]

    @extend_schema(
        operation_id="v1_blocked_buyers_list",
        parameters=PAGE_PARAMETERS,
        responses=BuyerBlockPageSerializer,
    )
    def get(self, request: Request) -> Response:
        rows = selectors.buyer_blocks_of(shop_id=_actor(request).shop_id)
        return _page(request, self, rows, services.block_data)

    @extend_schema(
        request=BuyerBlockSerializer,
        responses={201: BuyerBlockSerializer, 200: BuyerBlockSerializer},
        description="Block a buyer: 201, or 200 when it was blocked already (the reason is "
        "replaced). Its open widget sockets close at once (4403 after an `error` frame with "
        "code `blocked`); its sessions and messages answer 403 from then on.",
    )
    def post(self, request: Request) -> Response:
        data = BuyerBlockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        block, created = services.buyer_block(
            actor=_actor(request),
            external_id=data.validated_data["buyer"],
            reason=data.validated_data["reason"],
        )
        return Response(
            services.block_data(block), status=status.HTTP_201_CREATED if created else 200
        )


class BuyerBlockDetailView(APIView):
    permission_classes = [MANAGE_SETTINGS]
    tenant_model = BuyerBlock
    tenant_lookup_fields = {"buyer": "external_id"}

    @extend_schema(responses=BuyerBlockSerializer)
    def get(self, request: Request, buyer: str) -> Response:
        block = selectors.buyer_block_get(shop_id=_actor(request).shop_id, external_id=buyer)
        return Response(services.block_data(block))

    @extend_schema(responses={204: None}, description="Unblock (404 when not blocked).")
    def delete(self, request: Request, buyer: str) -> Response:
        services.buyer_unblock(actor=_actor(request), external_id=buyer)
        return Response(status=status.HTTP_204_NO_CONTENT)
