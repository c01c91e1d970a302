"""What a change of the shop's routing configuration does to the conversations already open.

The back office changes settings and groups (``apps.backoffice``); in the same transaction, under
the shop's lock taken first, it calls one of these so that the open conversations follow the new
configuration at once (SPEC B2, B4, B9, C2, C3). A raised max needs no more than
``capacity_changed``; these cover what dispatching free slots alone cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from apps.routing.snapshot import Snapshot, candidates_from, load_snapshot


def _locked(conversation_ids: Iterable[int]) -> list[Conversation]:
    """Lock and read these conversations in id order (the lock order of every pass)."""
    return list(
        Conversation.objects.select_for_update(of=("self",))
        .filter(pk__in=list(conversation_ids))
        .select_related("buyer", "product")
        .order_by("id")
    )


def _decide_again(
    conversation: Conversation, snapshot: Snapshot, now: datetime, *, keep_candidates: bool
) -> None:
    """A queued conversation decided again under the new configuration: within the candidates
    it has (``keep_candidates``, as a re-queued or transferred one must stay), or as if the
    buyer asked now. If it must still wait it keeps its place, with the new candidates."""
    if keep_candidates:
        candidates = candidates_from(conversation.candidate_ids, conversation.candidate_group_ids)
        request = routing_request(
            conversation,
            candidate_ids=candidates.agent_ids,
            candidate_group_ids=candidates.group_ids,
        )
    else:
        request = routing_request(conversation)
    decision = engine.decide(request, snapshot.agents, snapshot.groups, snapshot.rules, now)
    if isinstance(decision, engine.Queue):
        ids = decision.candidates.agent_ids
        conversation.candidate_ids = None if ids is None else sorted(ids)
        conversation.candidate_group_ids = sorted(decision.candidates.group_ids)
        conversation.save(update_fields=["candidate_ids", "candidate_group_ids"])
    else:
        apply_decision(conversation, decision, snapshot, now)


@transaction.atomic
def settings_changed(
    *, shop_id: int, offline_routing_resumed: bool = False, now: datetime | None = None
) -> None:
    """The shop's routing settings changed (already saved, in the caller's transaction).

    - ``offline_routing_resumed`` (B9 switched on): what agents kept as offline messages when
      they went offline while it was off is re-routed now, as B9a would have done then. What an
      offline main account was given while already offline (B8 private contacts, B11
      ``main_account``) stays: B9a never applied to it.
    - C2: a queued buyer whose queue no longer applies (queue switched off, its group taken out
      of the queueing groups) is decided again within its candidates, max not enforced.
    - C3: free slots take the waiting buyers (a raised max, the pool's auto-assign switched on),
      and queued buyers left with no present candidate are decided again.
    One snapshot serves the whole change.
    """
    now = now or timezone.now()
    lock_shop(shop_id)
    kept: list[Conversation] = []
    if offline_routing_resumed:
        # Rows before the first event, in id order (the lock order of B9a).
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
    _settings_moved(shop_id, kept, snapshot, now)


def _settings_moved(
    shop_id: int, kept: list[Conversation], snapshot: Snapshot, now: datetime
) -> None:
    for conversation in kept:
        reroute(conversation=conversation, snapshot=snapshot, now=now)
    queued = Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED).values_list(
        "pk", "candidate_ids", "candidate_group_ids"
    )
    unqueued = [
        pk
        for pk, ids, group_ids in queued
        if not engine.queue_applies(
            candidates_from(ids, group_ids), snapshot.rules, snapshot.groups
        )
    ]
    for conversation in _locked(unqueued):
        _decide_again(conversation, snapshot, now, keep_candidates=True)
    route_stranded(shop_id, now, snapshot)
    dispatch(shop_id=shop_id, now=now, snapshot=snapshot)


@transaction.atomic
def group_removed(*, shop_id: int, group_id: int, now: datetime | None = None) -> None:
    """A group was deleted (B2, B4): its buyers waiting in the queue were scoped by it. Each is
    decided again as if it asked now, against the groups that remain (simple mode after the
    last one), keeping its place in the queue if it must still wait. Conversations already with
    an agent stay with it (the agent is still there, in no group). Call after the delete."""
    now = now or timezone.now()
    lock_shop(shop_id)
    waiting = Conversation.objects.filter(
        shop_id=shop_id, state=State.QUEUED, candidate_group_ids__contains=[group_id]
    ).values_list("pk", flat=True)
    rows = _locked(waiting)
    snapshot = load_snapshot(shop_id, now)
    for conversation in rows:
        _decide_again(conversation, snapshot, now, keep_candidates=False)
    route_stranded(shop_id, now, snapshot)
    dispatch(shop_id=shop_id, now=now, snapshot=snapshot)
