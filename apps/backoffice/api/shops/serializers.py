from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from apps.automation import hours
from apps.conversations.models import Entrance
from apps.shops.models import ShopSettings

HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")


class WeeklySlot(serializers.Serializer[dict[str, Any]]):
    weekday = serializers.IntegerField(min_value=0, max_value=6)
    start = serializers.RegexField(HHMM)
    end = serializers.RegexField(HHMM)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": [_("The end comes after the start.")]})
        return attrs


class ExceptionDay(serializers.Serializer[dict[str, Any]]):
    date = serializers.DateField()
    closed = serializers.BooleanField(default=False)
    start = serializers.RegexField(HHMM, required=False)
    end = serializers.RegexField(HHMM, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["closed"]:
            if "start" not in attrs or "end" not in attrs:
                raise serializers.ValidationError(
                    {"start": [_("An open exception day needs a start and an end.")]}
                )
            if attrs["start"] >= attrs["end"]:
                raise serializers.ValidationError({"end": [_("The end comes after the start.")]})
        return attrs

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        value["date"] = (
            value["date"].isoformat() if isinstance(value["date"], date) else value["date"]
        )
        return value


class BusinessHours(serializers.Serializer[dict[str, Any]]):
    weekly = WeeklySlot(many=True)
    exceptions = ExceptionDay(many=True, required=False, default=list)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """A PATCH replaces the business hours as a whole: inside a partial update they are still
        checked as complete (required fields, defaults), on their own."""
        if self.root is not self and getattr(self.root, "partial", False):
            whole = BusinessHours(data=data)
            whole.is_valid(raise_exception=True)
            return dict(whole.validated_data)
        return super().to_internal_value(data)


class SettingsSerializer(serializers.ModelSerializer[ShopSettings]):
    """Every settings field of API.md; ``widget_secret`` only for the main account."""

    business_hours = BusinessHours()
    queue_groups = serializers.ListField(child=serializers.IntegerField(), required=False)
    entrances = serializers.ListField(
        child=serializers.ChoiceField(Entrance.choices), required=False, allow_empty=True
    )
    widget_origins = serializers.ListField(
        child=serializers.URLField(max_length=200), required=False, allow_empty=True
    )

    class Meta:
        model = ShopSettings
        exclude = ["id", "shop", "quick_replies_version", "sensitive_words_version"]
        read_only_fields = ["widget_secret"]
        extra_kwargs = {
            "widget_secret": {
                "help_text": "Shown to the main account alone; rotate it with "
                "POST /api/v1/settings/widget-secret/."
            }
        }

    def to_representation(self, instance: ShopSettings) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.is_main:
            data.pop("widget_secret", None)
        return data

    def validate_business_hours(self, value: dict[str, Any]) -> dict[str, Any]:
        found = hours.problems(value)
        if found:
            raise serializers.ValidationError(found)
        return value

    def validate_widget_origins(self, value: list[str]) -> list[str]:
        return [v.rstrip("/") for v in value]


class WidgetSecretSerializer(serializers.Serializer[dict[str, Any]]):
    widget_secret = serializers.CharField(
        read_only=True, help_text="The new secret; widget signatures made with the old one fail."
    )


class SettingsSchema(OpenApiSerializerExtension):
    """``widget_secret`` is absent from the answers to sub-accounts: not a required property."""

    target_class = SettingsSerializer

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        schema["required"] = [f for f in schema.get("required", []) if f != "widget_secret"]
        return schema


class ShopProfileSerializer(serializers.Serializer[Any]):
    """The shop itself (G1): ``slug`` (its login name) and the quota are read-only."""

    slug = serializers.CharField(read_only=True)
    # Blank and unknown values pass to the service, which names every bad field at once.
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    sub_account_quota = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
