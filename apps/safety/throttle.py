"""SPEC I6: the per-buyer message rate (``THROTTLE_BUYER_MESSAGES``, e.g. ``20/min``), one limit
for the widget's REST API and the buyer socket alike (docs/safety.md).

A fixed window per shop and buyer in the cache (Redis): one ``INCR`` and its ``EXPIRE`` sent
together, one round trip per message and no database query. A message beyond the limit raises
``Throttled`` (429 with ``Retry-After``; an ``error`` frame with code ``throttled`` on the
socket) before anything is stored. The embedded mode's in-process cache counts the same way.
Beyond Redis being unreachable (503, like every other cache use), nothing is shared between
windows: a buyer may send up to twice the limit across a window's edge, never more."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import ngettext

from apps.core.errors import Throttled

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
KEY = "throttle_buyer_msg:{shop}:{buyer}:{window}"  # "throttle_": cleared between tests


@dataclass(frozen=True)
class Rate:
    limit: int  # messages per window; 0: no limit
    seconds: int


def parse_rate(value: str) -> Rate:
    """``"20/min"``, ``"5/s"``, ``"600/hour"``, ``"1000/day"`` (DRF's form); empty or ``"0"``:
    no limit."""
    value = (value or "").strip().lower()
    if value in ("", "0", "none", "off"):
        return Rate(0, 1)
    try:
        number, period = value.split("/", 1)
        seconds = _PERIODS[period.strip()[0]]
        limit = int(number)
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(
            f"THROTTLE_BUYER_MESSAGES must look like 20/min, not {value!r}"
        ) from None
    return Rate(max(0, limit), seconds)


def _count(key: str, seconds: int) -> int:
    """Add one to ``key``'s counter (made with a lifetime of ``seconds``) and return it."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is None:  # the embedded mode's local-memory cache
        cache.add(key, 0, seconds)
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between the two calls: a new window
            cache.set(key, 1, seconds)
            return 1
    full = cache.make_key(key)
    pipe = client_of(full, write=True).pipeline(transaction=False)
    pipe.incr(full)
    pipe.expire(full, seconds + 1)
    count, _ok = pipe.execute()
    return int(count)


def buyer_message_throttle(*, shop_id: int, buyer_id: int, now: float | None = None) -> None:
    """Count one message of the buyer; ``Throttled`` beyond the shop-wide rate."""
    rate = parse_rate(settings.THROTTLE_BUYER_MESSAGES)
    if rate.limit == 0:
        return
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    count = _count(KEY.format(shop=shop_id, buyer=buyer_id, window=window), rate.seconds)
    if count > rate.limit:
        retry_after = math.ceil((window + 1) * rate.seconds - now)
        wait = max(1, retry_after)
        raise Throttled(
            ngettext(
                "You are sending messages too fast. Try again in %(n)d second.",
                "You are sending messages too fast. Try again in %(n)d seconds.",
                wait,
            )
            % {"n": wait},
            retry_after=wait,
        )
