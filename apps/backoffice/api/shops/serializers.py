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
DURATION_FIELDS = (
    "avg_handling_seconds",
    "reentry_window_seconds",
    "offline_grace_seconds",
    "buyer_silence_seconds",
    "buyer_warning_seconds",
    "agent_silence_seconds",
    "agent_warning_seconds",
)
# Automatic texts (SPEC D): empty means the default in the shop's language.
TEXT_FIELDS = (
    "welcome_text",
    "offhours_text",
    "queueing_text",
    "buyer_warning_text",
    "buyer_close_text",
    "agent_warning_text",
)
MAX_TEXT = 1000
SILENCE_FIELDS = DURATION_FIELDS[3:]  # buyer and agent silence and their warnings
MAX_TIMEOUT = 7 * 24 * 3600  # a week: longer is a typo, not a timeout


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
        exclude = ["id", "shop"]
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

    def validate_queue_groups(self, value: list[int]) -> list[int]:
        shop = self.instance.shop if self.instance else None
        if shop is None:
            return value
        from apps.routing.models import Group

        known = set(Group.objects.filter(shop=shop, pk__in=value).values_list("pk", flat=True))
        unknown = sorted(set(value) - known)
        if unknown:
            raise serializers.ValidationError(_("Unknown groups: %(ids)s") % {"ids": unknown})
        return sorted(set(value))

    def validate_business_hours(self, value: dict[str, Any]) -> dict[str, Any]:
        found = hours.problems(value)
        if found:
            raise serializers.ValidationError(found)
        return value

    def validate_widget_origins(self, value: list[str]) -> list[str]:
        return [v.rstrip("/") for v in value]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, int] = {
            f: int(attrs.get(f, getattr(self.instance, f, 0)) or 0) for f in DURATION_FIELDS
        }
        errors: dict[str, list[Any]] = {}
        # A warning comes before its timeout (SPEC D, API.md).
        for warning, timeout in (
            ("buyer_warning_seconds", "buyer_silence_seconds"),
            ("agent_warning_seconds", "agent_silence_seconds"),
        ):
            if merged[timeout] and merged[warning] and merged[warning] >= merged[timeout]:
                errors[warning] = [_("The warning must come before the timeout.")]
        for positive in ("avg_handling_seconds", "offline_grace_seconds"):
            if merged[positive] < 1:
                errors[positive] = [_("Ensure this value is at least 1.")]
        # SPEC D5, D6: 0 switches a timeout or its warning off; a week at most.
        for timeout in SILENCE_FIELDS:
            if merged[timeout] > MAX_TIMEOUT:
                errors[timeout] = [_("Ensure this value is at most %(n)d.") % {"n": MAX_TIMEOUT}]
        for text in TEXT_FIELDS:
            if len(attrs.get(text) or "") > MAX_TEXT:
                errors[text] = [
                    _("Ensure this text has at most %(n)d characters.") % {"n": MAX_TEXT}
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


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
