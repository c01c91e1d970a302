"""A resource that is exhausted or down is not a bug: HTTP answers 503 with ``Retry-After``, a
socket closes with 1013 (Try Again Later), never 500 / 1011 (SPEC N, DESIGN: connections).

What counts (:func:`is_unavailable`): no pooled database connection within
``HELPDESK_DB_POOL_TIMEOUT`` (``psycopg_pool.PoolTimeout``), PostgreSQL unreachable, restarting or
out of connections, Redis unreachable (the cache, the channel layer), SQLite busy (embedded mode).
The mapping is done in one place for each side: :func:`unavailable_response` for Django views and
middleware (``apps.core.middleware``, ``apps.core.api``) and :class:`SocketUnavailableGuard`
around every socket (``config/asgi.py``), which also covers the socket middleware.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import psycopg
import redis
from django.http import JsonResponse
from django.utils.translation import gettext as _
from psycopg_pool import PoolTimeout, TooManyRequests

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
CLOSE_TRY_AGAIN_LATER = 1013

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many connections),
# 57P operator intervention (shutdown, crash recovery, cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def _is_unavailable_one(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout | TooManyRequests):
        return True
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        # No SQLSTATE: the server never answered (refused, reset, unreachable).
        return state is None or state.startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return False


def is_unavailable(exc: BaseException) -> bool:
    """The error means "try again later": a resource is exhausted or down (see the module).
    Django's database errors carry the driver's error as their cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _is_unavailable_one(current):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def unavailable_payload() -> dict[str, str]:
    return {
        "code": "unavailable",
        "detail": _("The service is busy or briefly unavailable; please try again in a moment."),
    }


def unavailable_response() -> JsonResponse:
    """503 in JSON with ``Retry-After``."""
    response = JsonResponse(unavailable_payload(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class SocketUnavailableGuard:
    """Wraps the WebSocket application (middleware and consumers): when it fails because a
    resource is unavailable, the socket is closed with 1013 instead of the server's 1011 (or a
    500 at the handshake). Before the handshake was answered the socket is accepted first, so
    that the client sees the close code (a refused handshake carries none). Other errors pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        state = {"accepted": False, "closed": False}

        async def tracked_send(message: ASGIMessage) -> None:
            kind = message.get("type")
            if kind == "websocket.accept":
                state["accepted"] = True
            elif kind in ("websocket.close", "websocket.http.response.start"):
                state["closed"] = True
            await send(message)

        async def tracked_receive() -> ASGIMessage:
            message = await receive()
            if message.get("type") == "websocket.disconnect":
                state["closed"] = True
            return message

        try:
            await self.app(scope, tracked_receive, tracked_send)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            logger.warning(
                "socket %s closed with 1013: %s: %s",
                scope.get("path"),
                exc.__class__.__name__,
                exc.__cause__ or exc,
            )
            if state["closed"]:
                return
            # The client may be gone already: then there is nobody to tell.
            with contextlib.suppress(Exception):
                if not state["accepted"]:
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
