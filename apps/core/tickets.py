"""Short-lived, single-use socket tickets (issue 12, I7; API.md, "Event payloads and socket
authentication"): the product's own pages open their sockets with ``?ticket=`` instead of a
long-lived token in the URL, where proxies and browsers' histories would keep it.

``POST /api/v1/ws-ticket/`` asks for one with the caller's own credentials (a staff token or
session, or a buyer token); the handshake redeems it once: a ticket is gone after its first use
or ``HELPDESK_WS_TICKET_SECONDS`` (30 s), whichever comes first. Kept in the cache (Redis; the
embedded mode's in-memory cache in its one process) under a random key: the value says whose it
is (``kind``: "staff" with an account id, "buyer" with the buyer token it stands for)."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

_PREFIX = "ws-ticket:"
_local_lock = threading.Lock()  # the in-memory cache's get-and-delete


@dataclass(frozen=True)
class Ticket:
    kind: str  # "staff" or "buyer"
    value: str  # the account id, or the buyer token


def issue(kind: str, value: str) -> str:
    """A new ticket for ``kind``/``value``, valid once for ``HELPDESK_WS_TICKET_SECONDS``."""
    ticket = secrets.token_urlsafe(32)
    payload = json.dumps({"kind": kind, "value": value})
    cache.set(_PREFIX + ticket, payload, timeout=settings.HELPDESK_WS_TICKET_SECONDS)
    return ticket


def redeem(ticket: str) -> Ticket | None:
    """Whose ``ticket`` is, consuming it; None when unknown, used or expired."""
    if not ticket or len(ticket) > 100:
        return None
    key = _PREFIX + ticket
    raw = _take(key)
    if raw is None:
        return None
    data = json.loads(raw)
    return Ticket(kind=str(data["kind"]), value=str(data["value"]))


def _take(key: str) -> str | None:
    """Get and delete in one step: Redis's GETDEL, so two handshakes never share a ticket."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is not None:  # django's RedisCache
        client = get_client(key, write=True)
        raw = client.getdel(cache.make_and_validate_key(key))
        if raw is None:
            return None
        value = backend._serializer.loads(raw)  # type: ignore[union-attr]
        return str(value)
    with _local_lock:  # the embedded mode: one process, the in-memory cache
        value = cache.get(key)
        cache.delete(key)
    return None if value is None else str(value)
