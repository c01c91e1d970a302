"""Which event types a shop's webhooks take, known per process without a query on the hot
paths (SPEC H4; docs/integrations.md, "Cost on the hot paths"; ``publish`` explains the scheme).

The event catalogue (``apps.conversations.events``) names the webhook event types
(``declare``); this app knows none by name, like the outbox (``apps.events``)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from apps.integrations.models import Webhook

logger = logging.getLogger(__name__)

TRUST_SECONDS = 1.0
STAMP_TTL = 600

_types: tuple[str, ...] = ()


def declare(types: Iterable[str]) -> None:
    """The webhook event types (API.md), in their documented order: the catalogue's call."""
    global _types
    _types = tuple(types)


def declared() -> tuple[str, ...]:
    return _types


@dataclass
class _Known:
    types: frozenset[str]
    stamp: str | None
    checked: float  # time.monotonic() of the last confirmation


_known: dict[int, _Known] = {}
_lock = threading.Lock()


def _stamp_key(shop_id: int) -> str:
    return f"webhooks:stamp:{shop_id}"


def _stamp(shop_id: int) -> str | None:
    """The shop's current stamp (made if there is none); None when Redis cannot be read."""
    key = _stamp_key(shop_id)
    try:
        value = cache.get(key)
        if value is None:
            value = uuid.uuid4().hex
            if not cache.add(key, value, STAMP_TTL):
                value = cache.get(key) or value
        return str(value)
    except Exception:
        logger.warning("webhook stamp of shop %s unreadable", shop_id, exc_info=True)
        return None


def _load(shop_id: int) -> frozenset[str]:
    rows = Webhook.objects.filter(shop_id=shop_id, is_active=True).values_list("events", flat=True)
    return frozenset(t for events in rows for t in events)


def subscribed(shop_id: int) -> frozenset[str]:
    """The event types the shop's active webhooks take (see the module's docstring). Read the
    stamp first, then the database: a change that commits after the read replaces the stamp,
    so the next check reads again."""
    now = time.monotonic()
    known = _known.get(shop_id)
    if known is not None and now - known.checked < TRUST_SECONDS:
        return known.types
    stamp = _stamp(shop_id)
    if known is not None and (stamp is None or stamp == known.stamp):
        known.checked = now  # unchanged (or Redis unreadable: keep what is known)
        return known.types
    types = _load(shop_id)
    with _lock:
        _known[shop_id] = _Known(types, stamp, now)
    return types


def changed(shop_id: int) -> None:
    """The shop's webhooks changed: when the transaction commits, this process forgets what it
    knew and the others are told by a new stamp."""

    def replace() -> None:
        _known.pop(shop_id, None)
        try:
            cache.set(_stamp_key(shop_id), uuid.uuid4().hex, STAMP_TTL)
        except Exception:
            logger.warning("webhook stamp of shop %s not replaced", shop_id, exc_info=True)

    transaction.on_commit(replace, robust=True)


def forget_all() -> None:
    """Tests: start from nothing known."""
    _known.clear()


def known(shop_id: int) -> _Known | None:
    """What this process knows of the shop (``publish``'s check without Redis)."""
    return _known.get(shop_id)
