from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, perms_of
from apps.routing.models import AgentStatus, Group
from apps.shops.models import Shop

PERM_CHOICES = [(p.value, p.value) for p in Perm]


class ShopSerializer(serializers.ModelSerializer[Shop]):
    class Meta:
        model = Shop
        fields = ["id", "slug", "name", "time_zone", "sub_account_quota", "created_at"]
        read_only_fields = fields


class AccountSerializer(serializers.ModelSerializer[Account]):
    """The account fields of API.md."""

    permissions = serializers.SerializerMethodField()
    routing_enabled = serializers.BooleanField(source="agent_state.routing_enabled")
    group: serializers.PrimaryKeyRelatedField[Group] = serializers.PrimaryKeyRelatedField(
        source="agent_state.group", read_only=True, allow_null=True, help_text="null: no group"
    )
    weight = serializers.IntegerField(source="agent_state.weight")
    max_concurrent = serializers.IntegerField(source="agent_state.max_concurrent", allow_null=True)
    status = serializers.CharField(source="agent_state.status")
    open_conversations = serializers.IntegerField(source="agent_state.open_count")

    class Meta:
        model = Account
        fields = [
            "id",
            "username",
            "name",
            "display_name",
            "kind",
            "is_active",
            "permissions",
            "routing_enabled",
            "group",
            "weight",
            "max_concurrent",
            "status",
            "open_conversations",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(PERM_CHOICES)))
    def get_permissions(self, account: Account) -> list[str]:
        return perms_of(account)


class SignupSerializer(serializers.Serializer[dict[str, Any]]):
    slug = serializers.CharField(max_length=30, help_text=_("The shop's login name."))
    name = serializers.CharField(max_length=100)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    time_zone = serializers.CharField(max_length=64, required=False, default="Asia/Shanghai")


class SignupResultSerializer(serializers.Serializer[dict[str, Any]]):
    shop = ShopSerializer()
    account = AccountSerializer()
    token = serializers.CharField()


class TokenLoginSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField(max_length=100, help_text=_("`shop` or `shop:name`"))
    password = serializers.CharField(trim_whitespace=False, max_length=128)


class TokenResultSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField()
    account = AccountSerializer()


@extend_schema_field(OpenApiTypes.INT)
class GroupField(serializers.PrimaryKeyRelatedField[Group]):
    """A group of the caller's shop; another shop's id reads as unknown."""

    def get_queryset(self) -> Any:
        request = self.context["request"]
        return Group.objects.filter(shop_id=request.user.shop_id)


class AccountWriteSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=32)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    display_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    permissions = serializers.ListField(child=serializers.ChoiceField(PERM_CHOICES), required=False)
    routing_enabled = serializers.BooleanField(required=False)
    group = GroupField(required=False, allow_null=True)
    weight = serializers.IntegerField(min_value=1, max_value=100, required=False)
    max_concurrent = serializers.IntegerField(
        min_value=1, max_value=50, required=False, allow_null=True
    )
    is_active = serializers.BooleanField(required=False)


class AccountCreateSerializer(AccountWriteSerializer):
    is_active = None  # type: ignore[assignment]


class AccountUpdateSerializer(AccountWriteSerializer):
    name = None  # type: ignore[assignment]
    password = None  # type: ignore[assignment]


class PasswordSerializer(serializers.Serializer[dict[str, Any]]):
    password = serializers.CharField(trim_whitespace=False, max_length=128)


class MeUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    display_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    max_concurrent = serializers.IntegerField(min_value=1, max_value=50, required=False)


class StatusSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(AgentStatus.choices)
