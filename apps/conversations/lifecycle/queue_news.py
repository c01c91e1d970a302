"""Telling the shop's staff that its queue changed (SPEC E1: the workbench shows the queue's
length without polling), coalesced: one ``queue.changed`` per transaction, however many buyers
were queued, left the queue or were taken from it.

The lifecycle's writers mark the queue as changed (``touched``) where a conversation enters or
leaves ``queued``; a transition wraps its work in ``watch``, and when the outermost ``watch`` of
the shop ends (inside the transaction, so the event commits with the state and is pushed after
the commit, docs/realtime.md) the event is built once. Its figures come from what the
transition already read when it can say so (``waiting_known``: a routing pass's read of the
queue for its queueing replies, dispatch's read of the queue; the recipients and groups from
its snapshot), so the hot paths read nothing more (``tests/conversations/test_query_counts.py``);
otherwise two small reads. A mark outside any ``watch`` is told at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from apps.conversations import events
from apps.conversations.models import Conversation, State
from apps.routing.models import AgentState
from apps.routing.snapshot import Snapshot
from apps.shops.models import ShopSettings

# The candidate ids of each waiting buyer (None: every participant), as the queue's reads give.
Waiting = Sequence[Sequence[int] | None]


@dataclass
class _Watch:
    depth: int = 0
    touched: bool = False
    waiting: Waiting | None = None  # the queue as it is now, when a reader said so
    snapshot: Snapshot | None = None


_local = threading.local()


def _watches() -> dict[int, _Watch]:
    found: dict[int, _Watch] | None = getattr(_local, "watches", None)
    if found is None:
        found = _local.watches = {}
    return found


@contextmanager
def watch(shop_id: int) -> Iterator[None]:
    """Coalesce the queue's changes of the block into one event, told when the outermost block
    of the shop ends without an error. Use inside the transaction (and inside its
    ``batched_events``, so the event goes with the others)."""
    watches = _watches()
    current = watches.setdefault(shop_id, _Watch())
    current.depth += 1
    ok = False
    try:
        yield
        ok = True
    finally:
        current.depth -= 1
        if current.depth == 0:
            del watches[shop_id]
            if ok and current.touched:
                _tell(shop_id, current)


def touched(shop_id: int, snapshot: Snapshot | None = None) -> None:
    """A conversation of the shop entered or left the queue (what was known of the queue is
    stale now). ``snapshot``: the caller's, kept true by its writes."""
    current = _watches().get(shop_id)
    if current is None:
        _tell(shop_id, _Watch(touched=True, snapshot=snapshot))
        return
    current.touched = True
    current.waiting = None
    if snapshot is not None:
        current.snapshot = snapshot


def waiting_known(shop_id: int, waiting: Waiting, snapshot: Snapshot) -> None:
    """The queue as it is now (read under the shop's lock after the changes so far), for the
    event of the current ``watch``."""
    current = _watches().get(shop_id)
    if current is not None and current.touched:
        current.waiting = list(waiting)
        current.snapshot = snapshot


def _tell(shop_id: int, news: _Watch) -> None:
    waiting = news.waiting
    if waiting is None:
        rows = Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED)
        waiting = list(rows.values_list("candidate_ids", flat=True))
    snapshot = news.snapshot
    if snapshot is not None:
        queue_mode = snapshot.settings.queue_mode
        receiving = [(a.id, a.group_id, a.routing_enabled) for a in snapshot.agents if a.can_chat]
        group_ids = [g.id for g in snapshot.groups]
    else:
        queue_mode = ShopSettings.objects.values_list("queue_mode", flat=True).get(shop_id=shop_id)
        receiving = list(
            AgentState.objects.receiving_buyers(shop_id)
            .filter(account__is_active=True)
            .values_list("account_id", "group_id", "routing_enabled")
        )
        group_ids = sorted({g for _a, g, _r in receiving if g is not None})
    by_group: list[events.QueueGroupCount] = []
    for group_id in group_ids:
        members = {a for a, g, routing in receiving if g == group_id and routing}
        count = sum(1 for ids in waiting if ids is None or members.intersection(ids))
        by_group.append({"group": group_id, "waiting": count})
    events.queue_changed(
        shop_id,
        [a for a, _g, _r in receiving],
        {"waiting": len(waiting), "by_group": by_group, "queue_mode": str(queue_mode)},
    )
