from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.conversations.models import IntentRule, State


class ConversationFilterSerializer(serializers.Serializer[dict[str, Any]]):
    state = serializers.ChoiceField(State.choices, required=False)
    agent = serializers.IntegerField(required=False)
    buyer = serializers.CharField(required=False, max_length=64)
    group = serializers.IntegerField(required=False)
    since = serializers.DateTimeField(required=False)


class AfterSeqSerializer(serializers.Serializer[dict[str, Any]]):
    after_seq = serializers.IntegerField(min_value=0, required=False, default=0)


class MessageCreateSerializer(serializers.Serializer[dict[str, Any]]):
    body = serializers.CharField(max_length=5000)
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class TransferSerializer(serializers.Serializer[dict[str, Any]]):
    to_account = serializers.IntegerField(required=False)
    to_group = serializers.IntegerField(required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("to_account" in attrs) == ("to_group" in attrs):
            raise serializers.ValidationError(
                {"to_account": ["Name either to_account or to_group."]}
            )
        return attrs


class QueueFilterSerializer(serializers.Serializer[dict[str, Any]]):
    group = serializers.IntegerField(required=False)


class PrivateContactSerializer(serializers.Serializer[dict[str, Any]]):
    buyer = serializers.CharField(max_length=64, help_text="The buyer's external id.")


class IntentRuleSerializer(serializers.ModelSerializer[IntentRule]):
    keywords = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False)

    class Meta:
        model = IntentRule
        fields = ["id", "name", "keywords", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_name(self, value: str) -> str:
        value = value.strip()
        shop_id = self.context["request"].user.shop_id
        clash = IntentRule.objects.filter(shop_id=shop_id, name=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("An intent with this name already exists.")
        return value

    def validate_keywords(self, value: list[str]) -> list[str]:
        cleaned = sorted({k.strip() for k in value if k.strip()})
        if not cleaned:
            raise serializers.ValidationError("Give at least one keyword.")
        return cleaned


class WidgetSessionSerializer(serializers.Serializer[dict[str, Any]]):
    shop = serializers.SlugField(max_length=30)
    buyer_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    signature = serializers.CharField(max_length=128, required=False, allow_blank=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    entrance = serializers.ChoiceField(["product", "order", "member"])
    product = serializers.CharField(max_length=64, required=False, allow_blank=True)
    order = serializers.CharField(max_length=64, required=False, allow_blank=True)


class WidgetConversationSerializer(serializers.Serializer[dict[str, Any]]):
    human = serializers.BooleanField(default=False)
    agent = serializers.IntegerField(required=False, allow_null=True)
    intent = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class RatingSerializer(serializers.Serializer[dict[str, Any]]):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
