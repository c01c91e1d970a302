"""Telling the shop's staff that its queue changed (SPEC E1: the workbench shows the queue's
length without polling), coalesced across transactions and processes: at most one
``queue.changed`` a second per shop, the last change never lost (``apps.core.coalesce``, as the
live board's ``monitor.updated``).

The lifecycle's writers mark the queue as changed (``touched``) where a conversation enters or
leaves ``queued``. The mark costs the transition nothing but a set insert when it commits; the
coalescer's thread then reads the queue once and stores one event per account that receives
buyers (``queue_push``), outside any request. Until issue 8's measurements it was one event per
such account in every transaction that moved the queue, inside it: in a shop of 50 agents a
routing pass that queued a buyer stored and pushed 51 events, and a queued buyer's request cost
about twice an assigned one's (docs/routing.md, "Throughput").
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.conversations import events
from apps.conversations.models import Conversation, State
from apps.core import coalesce
from apps.routing import queue
from apps.routing.snapshot import load_snapshot

QUEUE_TOPIC = "queue"  # the coalescer's topic (apps.core.coalesce): "shop N's queue moved"
INTERVAL_MS = 1000


def touched(shop_id: int) -> None:
    """A conversation of the shop entered or left the queue: its staff hear of it after the
    commit (at once outside a transaction), coalesced."""
    coalesce.changed(QUEUE_TOPIC, shop_id)


def register() -> None:
    """The topic's handler, in every process (``ConversationsConfig.ready``)."""
    coalesce.register(QUEUE_TOPIC, queue_push, interval_ms=INTERVAL_MS)


def queue_push(shop_id: int) -> None:
    """The coalescer's handler: the queue as it is now, to every account that receives buyers
    (the main account and ``chat``, A4), present or not. ``by_group`` counts, for each group,
    the waiting buyers its routing members may take (``queue.may_take``, as the live board
    counts them), groups in id order. Two round trips: the routing snapshot, the queue."""
    with transaction.atomic():
        snapshot = load_snapshot(shop_id, timezone.now())
        waiting = list(
            Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED).values_list(
                "candidate_ids", flat=True
            )
        )
        by_group: list[events.QueueGroupCount] = []
        for group in snapshot.groups:
            members = snapshot.routing_members(group.id)
            count = sum(1 for ids in waiting if queue.may_take(members, ids))
            by_group.append({"group": group.id, "waiting": count})
        events.queue_changed(
            shop_id,
            snapshot.receiving,
            {
                "waiting": len(waiting),
                "by_group": by_group,
                "queue_mode": str(snapshot.settings.queue_mode),
            },
        )
