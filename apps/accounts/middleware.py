"""Socket authentication by ``?token=`` (staff token), falling back to the session cookie."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _account_for_token(key: str) -> Any:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("token") or [""])[0]
        if key:
            from django.contrib.auth.models import AnonymousUser

            account = await _account_for_token(key)
            scope = dict(scope, user=account or AnonymousUser())
        return await super().__call__(scope, receive, send)


def StaffAuthStack(inner: Any) -> Any:
    """Session cookie first, then ``?token=`` overrides it when given."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
