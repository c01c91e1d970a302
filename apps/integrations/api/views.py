"""API keys and webhooks (SPEC H2, H4; API.md, "Integration keys, webhooks").

Keys: the main account or ``manage_settings`` (a key cannot make keys). Webhooks: the same
accounts, or an API key of the shop (``KEY_OR_STAFF``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm
from apps.accounts.permissions import Perm
from apps.core.pagination import PAGE_PARAMETERS, Pagination
from apps.core.types import UNSET
from apps.integrations import keys, webhooks
from apps.integrations.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeyPageSerializer,
    ApiKeySerializer,
    DeliveryAttemptPageSerializer,
    DeliveryAttemptSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookPageSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from apps.integrations.authentication import KEY_OR_STAFF, IsApiKey, actor_of_request
from apps.integrations.models import ApiKey, Webhook

MANAGE_SETTINGS = HasShopPerm.of(Perm.MANAGE_SETTINGS)


def _shop_id(request: Request) -> int:
    return int(request.user.shop_id)  # type: ignore[union-attr]


def _page(request: Request, view: APIView, rows: Any, serializer: type[Any]) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    assert page is not None
    return paginator.get_paginated_response(serializer(page, many=True).data)


class ApiKeyListView(APIView):
    permission_classes = [MANAGE_SETTINGS]

    @extend_schema(
        operation_id="v1_api_keys_list", parameters=PAGE_PARAMETERS, responses=ApiKeyPageSerializer
    )
    def get(self, request: Request) -> Response:
        return _page(request, self, keys.api_keys_of(shop_id=_shop_id(request)), ApiKeySerializer)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        made = keys.api_key_create(actor=request.user, name=data.validated_data["name"])  # type: ignore[arg-type]
        key = made.api_key
        answer = {
            "id": key.pk,
            "name": key.name,
            "prefix": key.prefix,
            "key": made.key,
            "created_at": key.created_at,
        }
        return Response(ApiKeyCreatedSerializer(answer).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = [MANAGE_SETTINGS]
    tenant_model = ApiKey

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: str) -> Response:
        keys.api_key_revoke(actor=request.user, key_id=pk)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class _WebhookView(APIView):
    authentication_classes = KEY_OR_STAFF
    permission_classes = [IsApiKey | MANAGE_SETTINGS]


class WebhookListView(_WebhookView):
    @extend_schema(
        operation_id="v1_webhooks_list", parameters=PAGE_PARAMETERS, responses=WebhookPageSerializer
    )
    def get(self, request: Request) -> Response:
        rows = webhooks.webhooks_of(shop_id=_shop_id(request))
        return _page(request, self, rows, WebhookSerializer)

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = WebhookCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        made = webhooks.webhook_create(
            shop_id=_shop_id(request),
            actor=actor_of_request(request),
            url=data.validated_data["url"],
            events=data.validated_data["events"],
        )
        answer = {**WebhookSerializer(made.webhook).data, "secret": made.secret}
        return Response(answer, status=status.HTTP_201_CREATED)


class WebhookDetailView(_WebhookView):
    tenant_model = Webhook

    @extend_schema(responses=WebhookSerializer)
    def get(self, request: Request, pk: str) -> Response:
        webhook = webhooks.webhook_get(shop_id=_shop_id(request), webhook_id=pk)
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookSerializer)
    def patch(self, request: Request, pk: str) -> Response:
        webhooks.webhook_get(shop_id=_shop_id(request), webhook_id=pk)  # 404 before 400
        data = WebhookUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        webhook = webhooks.webhook_update(
            shop_id=_shop_id(request),
            actor=actor_of_request(request),
            webhook_id=pk,
            url=v.get("url", UNSET),
            events=v.get("events", UNSET),
            is_active=v.get("is_active", UNSET),
        )
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: str) -> Response:
        webhooks.webhook_delete(
            shop_id=_shop_id(request), actor=actor_of_request(request), webhook_id=pk
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(_WebhookView):
    """The webhook's delivery log: every attempt, newest first."""

    tenant_model = Webhook

    @extend_schema(
        operation_id="v1_webhooks_deliveries_list",
        parameters=PAGE_PARAMETERS,
        responses=DeliveryAttemptPageSerializer,
    )
    def get(self, request: Request, pk: str) -> Response:
        webhook = webhooks.webhook_get(shop_id=_shop_id(request), webhook_id=pk)
        return _page(
            request, self, webhooks.attempts_of(webhook=webhook), DeliveryAttemptSerializer
        )
