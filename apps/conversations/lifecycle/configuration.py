"""What a change of the shop's routing configuration does to the conversations already open.

The back office changes settings and groups (``apps.backoffice``); in the same transaction, under
the shop's lock taken first, it calls one of these so that the open conversations follow the new
configuration at once (SPEC B2, B4, B9, C3). A raised max or a queue switched off needs no more
than ``capacity_changed``; these cover what dispatching alone cannot see.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.conversations.lifecycle.outcomes import (
    apply_decision,
    dispatch,
    reroute,
    route_stranded,
)
from apps.conversations.models import Conversation, State
from apps.conversations.selectors import routing_request
from apps.routing import engine
from apps.routing.locking import lock_shop
from apps.routing.models import AgentStatus
from apps.routing.snapshot import load_snapshot


@transaction.atomic
def offline_routing_resumed(*, shop_id: int, now: datetime | None = None) -> list[Conversation]:
    """Offline routing (B9) was switched on: what agents kept as offline messages when they went
    offline while it was off is re-routed now, as B9a would have done then (eligible agents of
    its candidate set, else the front of the queue, else B11). What an offline main account was
    given while already offline (B8 private contacts, B11 ``main_account``) stays with it: B9a
    never applied to it. Returns the conversations re-routed (or kept, by ``engine.decide``)."""
    now = now or timezone.now()
    lock_shop(shop_id)
    # Rows before the first event, in id order (the lock order of B9a, ``agents._lock_held``).
    kept = list(
        Conversation.objects.select_for_update(of=("self",))
        .filter(
            shop_id=shop_id,
            state=State.ACTIVE,
            agent__agent_state__status=AgentStatus.OFFLINE,
            assigned_at__lte=F("agent__agent_state__status_changed_at"),
        )
        .select_related("buyer", "product")
        .order_by("id")
    )
    snapshot = load_snapshot(shop_id, now)
    moved = [reroute(conversation=c, snapshot=snapshot, now=now) for c in kept]
    route_stranded(shop_id, now, snapshot)
    dispatch(shop_id=shop_id, now=now, snapshot=snapshot)
    return moved


@transaction.atomic
def group_removed(*, shop_id: int, group_id: int, now: datetime | None = None) -> None:
    """A group was deleted (B2, B4): its buyers waiting in the queue were scoped by it. Each is
    decided again as if it asked now, against the groups that remain (simple mode after the
    last one), keeping its place in the queue if it must still wait. Conversations already with
    an agent stay with it (the agent is still there, in no group). Call after the delete."""
    now = now or timezone.now()
    lock_shop(shop_id)
    waiting = list(
        Conversation.objects.select_for_update(of=("self",))
        .filter(shop_id=shop_id, state=State.QUEUED, candidate_group_ids__contains=[group_id])
        .select_related("buyer", "product")
        .order_by("id")
    )
    snapshot = load_snapshot(shop_id, now)
    for conversation in waiting:
        decision = engine.decide(
            routing_request(conversation), snapshot.agents, snapshot.groups, snapshot.rules, now
        )
        if isinstance(decision, engine.Queue):  # still waits: same place, new candidates
            ids = decision.candidates.agent_ids
            conversation.candidate_ids = None if ids is None else sorted(ids)
            conversation.candidate_group_ids = sorted(decision.candidates.group_ids)
            conversation.save(update_fields=["candidate_ids", "candidate_group_ids"])
        else:
            apply_decision(conversation, decision, snapshot, now)
    route_stranded(shop_id, now, snapshot)
    dispatch(shop_id=shop_id, now=now, snapshot=snapshot)
