"""SPEC I6's lists in API.md's shapes (``apps.safety.services.word_data`` and ``block_data``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.safety.models import BLOCK_REASON_MAX, EXTERNAL_ID_MAX, WORD_MAX, WordAction


class SensitiveWordSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(read_only=True)
    word = serializers.CharField(
        max_length=WORD_MAX,
        help_text="Matched as a substring, without case for Latin letters.",
    )
    action = serializers.ChoiceField(
        WordAction.choices,
        default=WordAction.MASK,
        help_text="`mask`: the word is stored and delivered as as many `*` as it has "
        "characters; `block`: the message is refused with 400 and nothing is stored.",
    )
    created_at = serializers.DateTimeField(read_only=True)


class SensitiveWordUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    word = serializers.CharField(max_length=WORD_MAX, required=False)
    action = serializers.ChoiceField(WordAction.choices, required=False)


class SensitiveWordPageSerializer(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SensitiveWordSerializer(many=True)


class BuyerBlockSerializer(serializers.Serializer[dict[str, Any]]):
    buyer = serializers.CharField(
        max_length=EXTERNAL_ID_MAX, help_text="The buyer's external id (known yet or not)."
    )
    reason = serializers.CharField(
        max_length=BLOCK_REASON_MAX, required=False, allow_blank=True, default=""
    )
    created_by = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The account that blocked the buyer."
    )
    created_by_name = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class BuyerBlockPageSerializer(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BuyerBlockSerializer(many=True)
