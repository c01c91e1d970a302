"""``GET /api/v1/audit/`` (SPEC I5): the shop's audit log, for the main account alone."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.models import AuditAction, AuditTarget
from apps.audit.selectors import AuditFilters, audit_entries
from apps.core.pagination import PAGE_PARAMETERS, Pagination


class IsMainAccount(BasePermission):
    """The shop's main account (active): SPEC I5, the audit log is the owner's."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user.is_active and getattr(user, "is_main", False)
        )


class ChangeSerializer(serializers.Serializer[dict[str, Any]]):
    before = serializers.JSONField(read_only=True, allow_null=True)
    after = serializers.JSONField(read_only=True, allow_null=True)


class AuditEntrySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    actor = serializers.IntegerField(
        source="actor_id",
        read_only=True,
        allow_null=True,
        help_text="The account's id; null for an API key, the system or a deleted account.",
    )
    actor_kind = serializers.CharField(read_only=True, help_text="account, api_key or system.")
    actor_name = serializers.CharField(
        read_only=True, help_text="The account's login name, or the API key's prefix and name."
    )
    address = serializers.IPAddressField(read_only=True, allow_null=True)
    action = serializers.ChoiceField(AuditAction.choices, read_only=True)
    target_type = serializers.ChoiceField(AuditTarget.choices, read_only=True)
    target_id = serializers.CharField(read_only=True)
    target_name = serializers.CharField(read_only=True)
    changes = serializers.DictField(
        child=ChangeSerializer(),
        read_only=True,
        help_text='{field: {"before", "after"}}; secrets read "[secret]".',
    )


class AuditFilterSerializer(serializers.Serializer[dict[str, Any]]):
    action = serializers.CharField(
        required=False,
        max_length=40,
        help_text='An action ("account.updated") or a kind of target ("account": all of them).',
    )
    target_type = serializers.ChoiceField(AuditTarget.choices, required=False)
    target_id = serializers.CharField(required=False, max_length=64)
    actor = serializers.IntegerField(required=False, min_value=1, help_text="An account id.")
    since = serializers.DateTimeField(required=False, help_text="From this time on.")
    until = serializers.DateTimeField(required=False, help_text="Before this time.")


class AuditPageSerializer(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AuditEntrySerializer(many=True)


class AuditLogView(APIView):
    """SPEC I5: who changed which account, permission, setting, group, API key, webhook,
    sensitive word or blocked buyer, when and from which address; newest first, paginated."""

    permission_classes = [IsMainAccount]

    @extend_schema(
        parameters=[AuditFilterSerializer, *PAGE_PARAMETERS], responses=AuditPageSerializer
    )
    def get(self, request: Request) -> Response:
        query = AuditFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = AuditFilters(**query.validated_data)
        rows = audit_entries(shop_id=request.user.shop_id, filters=filters)  # type: ignore[union-attr]
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        assert page is not None
        return paginator.get_paginated_response(AuditEntrySerializer(page, many=True).data)
