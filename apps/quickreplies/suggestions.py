"""Which quick replies a buyer's message calls for, on the buyer message's path (SPEC D7).

Each process keeps, per shop, the keywords of the shop's replies as of the shop's
``quick_replies_version`` (which every change bumps, ``services``): a buyer's message, which
reads the settings anyway, asks the database only when the shop's replies changed since this
process last read them, and nothing at all in a shop that never had one (version 0). The buyer
message path is pinned by query counts and by the latency benchmark (issue 8)."""

from __future__ import annotations

import threading
from typing import NamedTuple

from apps.quickreplies.matching import ranked
from apps.quickreplies.models import QuickReply


class _Entry(NamedTuple):
    pk: int
    owner: int | None
    keywords: list[str]


# By shop: (version, the replies with keywords, in the list's order: category, position, id).
_Entries = list[_Entry]
_cache: dict[int, tuple[int, _Entries]] = {}
_lock = threading.Lock()


def _entries(shop_id: int, version: int) -> _Entries:
    with _lock:
        cached = _cache.get(shop_id)
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = QuickReply.objects.filter(shop_id=shop_id).order_by("category", "position", "id")
    entries = [
        _Entry(pk, owner, keywords)
        for pk, owner, keywords in rows.values_list("id", "owner_id", "keywords")
        if keywords
    ]
    with _lock:
        _cache[shop_id] = (version, entries)
    return entries


def matching_reply_ids(*, shop_id: int, version: int, agent_id: int, text: str) -> list[int]:
    """The replies the agent may use (shop-wide, or its own) whose keywords occur in ``text``,
    more matched keywords first; ``version``: the shop's ``quick_replies_version``."""
    if version == 0:
        return []
    usable = [e for e in _entries(shop_id, version) if e.owner in (None, agent_id)]
    return [s.reply.pk for s in ranked(usable, text) if s.matched]
