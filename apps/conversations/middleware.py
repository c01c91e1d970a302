"""The buyer socket's handshake: the buyer token (``?token=``) and the Origin check of the widget
(API.md, WebSockets: the hosts of ``ALLOWED_HOSTS`` and the shop's ``widget_origins``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult, parse_qs, urlparse

from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

from apps.conversations.buyers import BuyerPrincipal, principal_for_token
from apps.core import tickets
from apps.core.db import db_async
from apps.shops.models import ShopSettings


def _principal_for_ticket(ticket: str) -> BuyerPrincipal | None:
    """The buyer a ticket was issued to (consumed; single use), or None."""
    found = tickets.redeem(ticket)
    if found is None or found.kind != "buyer":
        return None
    return principal_for_token(found.value)


class BuyerTokenMiddleware(BaseMiddleware):
    """``scope["buyer"]``: the :class:`BuyerPrincipal` of ``?ticket=`` (single use, from
    ``POST /api/v1/ws-ticket/``; the widget page) or ``?token=``, or None."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ticket = (query.get("ticket") or [""])[0]
        token = (query.get("token") or [""])[0]
        principal = None
        if ticket:
            principal = await db_async(_principal_for_ticket)(ticket)
        elif token:
            principal = await db_async(principal_for_token)(token)
        return await super().__call__(dict(scope, buyer=principal), receive, send)


def _origin(scope: dict[str, Any]) -> ParseResult | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            try:
                return urlparse(value.decode("latin-1"))
            except (UnicodeDecodeError, ValueError):
                return None
    return None


def _widget_origins(shop_id: int) -> list[str]:
    origins = ShopSettings.objects.values_list("widget_origins", flat=True).get(shop_id=shop_id)
    return [str(o) for o in origins or []]


class WidgetOriginValidator:
    """Refuses the handshake (HTTP 403) unless the Origin is one of ``ALLOWED_HOSTS`` or of the
    buyer's shop's ``widget_origins``; runs after the buyer token is read."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        principal: BuyerPrincipal | None = scope.get("buyer")
        origin = _origin(scope)
        allowed = False
        if principal is not None and origin is not None:
            patterns = list(settings.ALLOWED_HOSTS)
            patterns += await db_async(_widget_origins)(principal.shop_id)
            allowed = OriginValidator(None, patterns).valid_origin(origin)
        if not allowed:
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def BuyerSocketStack(inner: Any) -> Any:
    """The buyer token first (the Origin check needs the shop), then the Origin."""
    return BuyerTokenMiddleware(WidgetOriginValidator(inner))
