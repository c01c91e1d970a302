from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.integrations import keys, netguard, subscriptions
from apps.integrations.models import ApiKey, Webhook, WebhookAttempt


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=keys.NAME_MAX, help_text="What the key is for.")


class ApiKeyCreatedSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True)
    key = serializers.CharField(
        read_only=True,
        help_text="Shown in this answer only: send it as `Authorization: Bearer <key>`.",
    )
    created_at = serializers.DateTimeField(read_only=True)


class EventTypesField(serializers.ListField):
    """The webhook event types (API.md), as the event catalogue declares them. DRF copies a
    serializer's fields by calling ``__init__`` again, so the choices are read then."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.ChoiceField(choices=subscriptions.declared()))
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    events = EventTypesField(read_only=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "is_active",
            "created_at",
            "disabled_at",
            "disabled_reason",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "disabled_reason": {
                "help_text": "Why the delivery switched it off (its last events all failed)."
            }
        }


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Shown in this answer only: it keys X-Helpdesk-Signature."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer[dict[str, Any]]):
    url = serializers.CharField(max_length=netguard.URL_MAX, help_text="http(s), public address.")
    events = EventTypesField(min_length=1)


class WebhookUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    url = serializers.CharField(max_length=netguard.URL_MAX, required=False)
    events = EventTypesField(min_length=1, required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="true switches a webhook the delivery switched off back on."
    )


class DeliveryAttemptSerializer(serializers.Serializer[WebhookAttempt]):
    event = serializers.UUIDField(
        source="delivery.event_id", read_only=True, help_text="The event id (X-Helpdesk-Delivery)."
    )
    type = serializers.CharField(source="delivery.type", read_only=True)
    attempt = serializers.IntegerField(source="number", read_only=True)
    status_code = serializers.IntegerField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    delivered = serializers.BooleanField(read_only=True)


class _Page(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class ApiKeyPageSerializer(_Page):
    results = ApiKeySerializer(many=True)


class WebhookPageSerializer(_Page):
    results = WebhookSerializer(many=True)


class DeliveryAttemptPageSerializer(_Page):
    results = DeliveryAttemptSerializer(many=True)
