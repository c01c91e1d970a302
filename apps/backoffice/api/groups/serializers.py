from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.routing.models import Group

ORDER_STATUSES = ("none", "unpaid", "paid", "shipped", "completed", "after_sale")


def _strings(max_length: int = 64) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=max_length), required=False, default=list
    )


class ScopeSerializer(serializers.Serializer[dict[str, Any]]):
    segments = _strings()
    products = _strings()
    intents = _strings()
    order_statuses = serializers.ListField(
        child=serializers.ChoiceField(ORDER_STATUSES), required=False, default=list
    )


class GroupSerializer(serializers.ModelSerializer[Group]):
    """Parsing and answering; the writes and their rules are ``apps.backoffice.groups``."""

    scope = ScopeSerializer(required=False)
    members = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "name", "max_concurrent", "scope", "members", "created_at"]
        read_only_fields = ["id", "members", "created_at"]
        extra_kwargs = {"max_concurrent": {"min_value": 1, "max_value": 50}}

    def get_members(self, group: Group) -> list[int]:
        return sorted(group.members.values_list("account_id", flat=True))

    def to_representation(self, group: Group) -> dict[str, Any]:
        data = super().to_representation(group)
        data["scope"] = {
            "segments": group.scope_segments,
            "products": group.scope_products,
            "intents": group.scope_intents,
            "order_statuses": group.scope_order_statuses,
        }
        return data
