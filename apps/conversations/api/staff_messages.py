"""``GET, POST /api/v1/staff-messages/`` (seed 001): staff and the main account write to each
other inside the workbench, never routed. Any active account of the shop (``IsStaff``); the
rules of who may write to whom are the service's."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import IsStaff
from apps.accounts.models import Account
from apps.conversations import events
from apps.conversations.staff_messages import (
    BODY_MAX,
    staff_message_send,
    staff_messages_of,
)
from apps.core.pagination import PAGE_PARAMETERS, Pagination
from apps.core.schema import UNKNOWN_REFERENCE
from apps.shops.models import StaffMessage


class StaffMessageSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(read_only=True)
    sender = serializers.IntegerField(read_only=True)
    sender_name = serializers.CharField(read_only=True)
    recipient = serializers.IntegerField(read_only=True)
    recipient_name = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class StaffMessageCreateSerializer(serializers.Serializer[dict[str, Any]]):
    to = serializers.IntegerField(
        help_text="The recipient: the main account, or (from the main account) any account."
    )
    body = serializers.CharField(max_length=BODY_MAX, trim_whitespace=True)


class StaffMessageFilterSerializer(serializers.Serializer[dict[str, Any]]):
    with_account = serializers.IntegerField(
        required=False, help_text="Only the messages exchanged with this account."
    )


class StaffMessagePageSerializer(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StaffMessageSerializer(many=True)


def _data(message: StaffMessage) -> dict[str, Any]:
    return dict(events.staff_message_data(message, message.sender, message.recipient))


class StaffMessagesView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[StaffMessageFilterSerializer, *PAGE_PARAMETERS],
        responses={200: StaffMessagePageSerializer, 404: UNKNOWN_REFERENCE},
    )
    def get(self, request: Request) -> Response:
        query = StaffMessageFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        account: Account = request.user  # type: ignore[assignment]
        rows = staff_messages_of(account=account, other_id=query.validated_data.get("with_account"))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self) or []
        return paginator.get_paginated_response([_data(m) for m in page])

    @extend_schema(
        request=StaffMessageCreateSerializer,
        responses={201: StaffMessageSerializer, 404: UNKNOWN_REFERENCE},
    )
    def post(self, request: Request) -> Response:
        data = StaffMessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = staff_message_send(
            sender=request.user,  # type: ignore[arg-type]
            to_id=data.validated_data["to"],
            body=data.validated_data["body"],
        )
        return Response(_data(message), status=status.HTTP_201_CREATED)
