"""Socket authentication by ``?ticket=`` or ``?token=`` (staff token), falling back to the session
cookie.

Both read the database through :func:`apps.core.db.db_async` (the socket database threads, the
connection handed back at once), channels' session user included."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import parse_qs

from channels.auth import AuthMiddleware
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib import auth
from django.http import HttpRequest
from rest_framework.authtoken.models import Token

from apps.core import tickets
from apps.core.db import db_async


@db_async
def _account_for_token(key: str) -> Any:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def _session_user(session: Any) -> Any:
    """Django's own ``get_user`` (session hash checked, fallback keys honoured) on the socket's
    session; it reads only ``request.session``."""
    return auth.get_user(cast(HttpRequest, SimpleNamespace(session=session)))


class SessionAuthMiddleware(AuthMiddleware):
    """Channels' ``AuthMiddleware`` (``scope["user"]`` from the session cookie), with the lookup
    on the socket database threads instead of channels' single database thread."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        scope["user"]._wrapped = await db_async(_session_user)(scope["session"])


@db_async
def _account_for_ticket(ticket: str) -> Any:
    """The active account a staff ticket was issued to (consumed), or None."""
    from apps.accounts.models import Account

    found = tickets.redeem(ticket)
    if found is None or found.kind != "staff":
        return None
    return Account.objects.filter(pk=int(found.value), is_active=True).first()


class TokenAuthMiddleware(BaseMiddleware):
    """``?ticket=`` (single use, from ``POST /api/v1/ws-ticket/``; the product's pages) or
    ``?token=`` (API clients): either replaces the session's user; a bad one leaves nobody."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ticket = (query.get("ticket") or [""])[0]
        key = (query.get("token") or [""])[0]
        if ticket or key:
            from django.contrib.auth.models import AnonymousUser

            account = await (_account_for_ticket(ticket) if ticket else _account_for_token(key))
            scope = dict(scope, user=account or AnonymousUser())
        return await super().__call__(scope, receive, send)


def StaffAuthStack(inner: Any) -> Any:
    """Session cookie first, then ``?token=`` overrides it when given."""
    return CookieMiddleware(SessionMiddleware(SessionAuthMiddleware(TokenAuthMiddleware(inner))))
