"""``POST /api/v1/ws-ticket/`` (API.md, socket authentication; issue 12, I7): a short-lived,
single-use ticket for the caller's own socket, asked for with its usual credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import StaffTokenAuthentication
from apps.conversations.api.widget import BuyerTokenAuthentication
from apps.conversations.buyers import BuyerPrincipal
from apps.core import tickets


class IsStaffOrBuyer(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, BuyerPrincipal):
            return True
        return bool(user and user.is_authenticated and user.is_active)


class WebSocketTicketView(APIView):
    """Staff (token or session) get a ticket for ``/ws/agent/``, a buyer (its buyer token) one
    for ``/ws/widget/``: ``?ticket=`` opens that socket once, within ``expires_in`` seconds."""

    authentication_classes = [
        StaffTokenAuthentication,
        SessionAuthentication,
        BuyerTokenAuthentication,
    ]
    permission_classes = [IsStaffOrBuyer]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "WebSocketTicket",
            {
                "ticket": serializers.CharField(),
                "expires_in": serializers.IntegerField(),
                "socket": serializers.CharField(),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.user, BuyerPrincipal):
            ticket, socket = tickets.issue("buyer", str(request.auth)), "/ws/widget/"
        else:
            ticket, socket = tickets.issue("staff", str(request.user.pk)), "/ws/agent/"
        return Response(
            {
                "ticket": ticket,
                "expires_in": settings.HELPDESK_WS_TICKET_SECONDS,
                "socket": socket,
            }
        )
