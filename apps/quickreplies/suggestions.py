"""Which quick replies a buyer's message calls for, on the buyer message's path (SPEC D7).

Each process keeps, per shop, the keywords of the shop's replies as of the shop's
``quick_replies_version`` (which every change bumps, ``services``): a buyer's message, which
reads the settings anyway, asks the database only when the shop's replies changed since this
process last read them, and nothing at all in a shop that never had one (version 0). The buyer
message path is pinned by query counts and by the latency benchmark (issue 8)."""

from __future__ import annotations

import threading

from apps.quickreplies.matching import matched_keywords
from apps.quickreplies.models import QuickReply

# By shop: (version, [(reply id, owner id or None, keywords)]) of the replies with keywords, in
# the list's order (category, position, id).
_Entries = list[tuple[int, int | None, tuple[str, ...]]]
_cache: dict[int, tuple[int, _Entries]] = {}
_lock = threading.Lock()


def _entries(shop_id: int, version: int) -> _Entries:
    with _lock:
        cached = _cache.get(shop_id)
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = QuickReply.objects.filter(shop_id=shop_id).order_by("category", "position", "id")
    entries: _Entries = [
        (pk, owner, tuple(keywords))
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
    scored = []
    for pk, owner, keywords in _entries(shop_id, version):
        if owner is not None and owner != agent_id:
            continue
        matched = matched_keywords(keywords, text)
        if matched:
            scored.append((len(matched), pk))
    scored.sort(key=lambda pair: -pair[0])  # stable: the list's order among equals
    return [pk for _n, pk in scored]
