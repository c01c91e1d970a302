"""``GET /api/v1/widget/intents/`` (seed 002, 请选择人工咨询问题): the shop's intents as the
"choose your question" menu the widget offers before the human button, and whether the shop
is in queue mode (seed 004: the chat window says so). The chosen name goes back as ``intent``
on ``POST /api/v1/widget/conversation/``, where it routes like a detected intent (B4)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.conversations.api.widget import _principal, _WidgetView
from apps.conversations.models import IntentRule
from apps.shops.models import QueueMode, ShopSettings


class WidgetIntentSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(read_only=True)


class WidgetIntentsSerializer(serializers.Serializer[dict[str, Any]]):
    enabled = serializers.BooleanField(
        read_only=True, help_text="Whether the shop offers the menu (intent_menu_enabled)."
    )
    queue_mode = serializers.ChoiceField(
        QueueMode.choices, read_only=True, help_text="SPEC C2: the shop's queue mode."
    )
    results = WidgetIntentSerializer(many=True, read_only=True)


class WidgetIntentsView(_WidgetView):
    @extend_schema(responses=WidgetIntentsSerializer)
    def get(self, request: Request) -> Response:
        shop_id = _principal(request).shop_id
        enabled, queue_mode = ShopSettings.objects.values_list(
            "intent_menu_enabled", "queue_mode"
        ).get(shop_id=shop_id)
        names: list[str] = []
        if enabled:
            names = list(
                IntentRule.objects.filter(shop_id=shop_id)
                .order_by("id")
                .values_list("name", flat=True)
            )
        return Response(
            {
                "enabled": enabled,
                "queue_mode": queue_mode,
                "results": [{"name": n} for n in names],
            }
        )
