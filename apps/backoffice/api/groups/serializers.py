from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
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

    def validate_name(self, value: str) -> str:
        value = value.strip()
        shop_id = self.context["request"].user.shop_id
        clash = Group.objects.filter(shop_id=shop_id, name=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(_("A group with this name already exists."))
        return value

    def _scope_fields(self, validated: dict[str, Any]) -> dict[str, Any]:
        scope = validated.pop("scope", None)
        if scope is None:
            return validated
        return {
            **validated,
            "scope_segments": sorted(set(scope.get("segments", []))),
            "scope_products": sorted(set(scope.get("products", []))),
            "scope_intents": sorted(set(scope.get("intents", []))),
            "scope_order_statuses": sorted(set(scope.get("order_statuses", []))),
        }

    def create(self, validated: dict[str, Any]) -> Group:
        return Group.objects.create(
            shop_id=self.context["request"].user.shop_id, **self._scope_fields(validated)
        )

    def update(self, group: Group, validated: dict[str, Any]) -> Group:
        for key, value in self._scope_fields(validated).items():
            setattr(group, key, value)
        group.save()
        return group
