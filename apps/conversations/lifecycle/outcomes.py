"""Writing the routing engine's decisions (DESIGN, lifecycle and routing decision).

Every function here runs inside the caller's transaction after ``lock_shop``: it writes the
conversation's state, the agents' load counters and the events, and keeps the caller's snapshot
true so that the next decision under the same lock needs no new read. ``dispatch`` hands free
slots to waiting buyers; ``reroute`` moves a conversation away from its agent (B9a, D6).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Case, F, Value, When
from django.utils import timezone

from apps.automation import timers
from apps.conversations import events
from apps.conversations.lifecycle import automatic, queue_news
from apps.conversations.lifecycle.store import save_conversation
from apps.conversations.models import Conversation, State
from apps.conversations.selectors import routing_request
from apps.core.metrics import ROUTING_DECISIONS
from apps.core.prepared import Write
from apps.routing import engine
from apps.routing.models import AgentState
from apps.routing.queue import queue_order
from apps.routing.snapshot import Snapshot, candidates_from, locked_snapshot


def candidates_of(conversation: Conversation) -> engine.Candidates:
    return candidates_from(conversation.candidate_ids, conversation.candidate_group_ids)


def _store_candidates(conversation: Conversation, candidates: engine.Candidates) -> None:
    ids = candidates.agent_ids
    conversation.candidate_ids = None if ids is None else sorted(ids)
    conversation.candidate_group_ids = sorted(candidates.group_ids)


def _move_load(agent_id: int | None, delta: int) -> None:
    if agent_id is not None:
        AgentState.objects.filter(account_id=agent_id).update(open_count=F("open_count") + delta)


def apply_assign(
    conversation: Conversation, decision: engine.Assign, snapshot: Snapshot, now: datetime
) -> Conversation:
    """Hand ``conversation`` to ``decision.agent_id``: state, load, wrr, events."""
    agent = snapshot.agent(decision.agent_id)
    assert agent is not None
    leaving_pool = conversation.state == State.POOLED
    if conversation.state == State.QUEUED:
        queue_news.touched(conversation.shop_id)  # E1: taken from the queue
    conversation.state = State.ACTIVE
    conversation.agent_id = agent.id
    conversation.group_id = agent.group_id
    conversation.assigned_at = now
    conversation.assign_reason = decision.reason.value
    if conversation.first_agent_id is None:  # G3: it counts for its first agent, saved below
        conversation.first_agent_id = agent.id
        conversation.first_assigned_at = now
        conversation.first_assign_reason = decision.reason.value
    if leaving_pool or decision.reason == engine.Reason.OFFLINE_MAIN:
        conversation.from_offline_message = True  # B11
    _store_candidates(conversation, decision.candidates)
    # D6: the agent's clock starts; D1: the welcome, in the agent's name, if it is there.
    present = agent.present
    timers.after_assign(
        conversation,
        durations=timers.Durations.of(snapshot.settings),
        now=now,
        agent_present=present,
    )
    counted = _count_assignment(agent.id, decision.wrr, snapshot, now)
    snapshot.moved(agent.id, open_delta=1, wrr=decision.wrr, assigned_at=now)
    events.conversation_assigned(conversation)
    # The welcome saves the conversation with its message and the agent's counters (one
    # statement for all three); without one, the conversation and the counters are saved here.
    welcomed = automatic.welcome(
        conversation,
        settings=snapshot.settings,
        agent_present=present,
        now=now,
        full_save=True,
        with_writes=counted,
    )
    if welcomed is None:
        save_conversation(conversation, with_writes=counted)
    return conversation


def _count_assignment(
    agent_id: int, wrr: dict[int, int], snapshot: Snapshot, now: datetime
) -> list[Write]:
    """The agent's load and last assignment, and the even rule's new weights (B5), as one
    statement however many agents the weights touch (``_COUNT_ASSIGNMENT``), for the caller to
    run with the conversation's save. In the embedded mode (SQLite): the ORM's statement, run
    now, and nothing left to run."""
    if connection.vendor != "postgresql":
        _count_assignment_orm(agent_id, wrr, snapshot, now)
        return []
    ids, currents = list(wrr), list(wrr.values())
    params = [agent_id, agent_id, now, ids, currents, ids, snapshot.today, [agent_id, *ids]]
    return [(_COUNT_ASSIGNMENT, params)]


def _count_assignment_orm(
    agent_id: int, wrr: dict[int, int], snapshot: Snapshot, now: datetime
) -> None:
    fields: dict[str, Any] = {
        "open_count": F("open_count") + Case(When(account_id=agent_id, then=1), default=0),
        "last_assigned_at": Case(
            When(account_id=agent_id, then=Value(now)), default=F("last_assigned_at")
        ),
    }
    if wrr:
        fields["wrr_current"] = Case(
            *(When(account_id=pk, then=Value(current)) for pk, current in wrr.items()),
            default=F("wrr_current"),
        )
        fields["wrr_day"] = Case(
            When(account_id__in=list(wrr), then=Value(snapshot.today)), default=F("wrr_day")
        )
    AgentState.objects.filter(account_id__in=[agent_id, *wrr]).update(**fields)


# One assignment's writes to the agents' rows, as fixed SQL: the ORM's CASE expressions for the
# same UPDATE cost about 2 ms of CPU to build, on every assignment, under the shop's lock (py-spy,
# issue 8). Parameters: the agent (twice), now, the even rule's agents and their new weights,
# the agents again, the shop's day, every agent touched.
_COUNT_ASSIGNMENT = f"""
UPDATE {connection.ops.quote_name(AgentState._meta.db_table)} SET
    open_count = open_count + CASE WHEN account_id = %s THEN 1 ELSE 0 END,
    last_assigned_at = CASE WHEN account_id = %s THEN %s ELSE last_assigned_at END,
    wrr_current = COALESCE(
        (SELECT w.c FROM unnest(%s::bigint[], %s::int[]) AS w(id, c) WHERE w.id = account_id),
        wrr_current
    ),
    wrr_day = CASE WHEN account_id = ANY(%s::bigint[]) THEN %s::date ELSE wrr_day END
WHERE account_id = ANY(%s::bigint[])
"""  # noqa: S608 (metadata)


def apply_queue(
    conversation: Conversation,
    candidates: engine.Candidates,
    now: datetime,
    *,
    front: bool = False,
    snapshot: Snapshot | None = None,
    tell: bool = True,
) -> Conversation:
    """C3: wait in the queue; ``front`` for conversations re-queued by B9a, D6 and B12.
    ``snapshot``: the caller's, for the queue figures without reading the agents again.
    ``tell=False``: the caller sends the queueing reply (D3) itself, as a routing pass does
    once for all the buyers it queued (``automatic.queueing_many``)."""
    queue_news.touched(conversation.shop_id)  # E1 (a re-queued one moves too)
    entered = conversation.state != State.QUEUED  # H4: a webhook event when it starts to wait
    conversation.state = State.QUEUED
    conversation.agent_id = None
    conversation.queue_priority = 1 if front else 0
    if conversation.queued_at is None or front:
        conversation.queued_at = now
    if conversation.first_queued_at is None:  # G3, seed 004: the queue report's arrival
        conversation.first_queued_at = now
        conversation.queue_group_id = min(candidates.group_ids, default=None)
    _store_candidates(conversation, candidates)
    timers.stop(conversation)
    save_conversation(conversation)
    events.conversation_updated(conversation, entered_queue=entered)
    if tell:
        automatic.queueing(conversation, now=now, snapshot=snapshot)  # D3
    return conversation


def apply_pool(
    conversation: Conversation, candidates: engine.Candidates, now: datetime
) -> Conversation:
    """B11 `pool`: held by the service assistant, in nobody's load."""
    if conversation.state == State.QUEUED:
        queue_news.touched(conversation.shop_id)  # E1: left the queue (C5)
    conversation.state = State.POOLED
    conversation.agent_id = None
    conversation.pooled_at = now
    _store_candidates(conversation, candidates)
    timers.stop(conversation)
    save_conversation(conversation)
    events.conversation_updated(conversation)
    return conversation


def _count(decision: engine.Decision) -> None:
    """I7: ``helpdesk_routing_decisions_total`` by outcome and reason (/metrics)."""
    if isinstance(decision, engine.Assign):
        ROUTING_DECISIONS.labels("assign", str(decision.reason.value)).inc()
    elif isinstance(decision, engine.Queue):
        ROUTING_DECISIONS.labels("queue", "").inc()
    elif isinstance(decision, engine.Pool):
        ROUTING_DECISIONS.labels("pool", "").inc()


def apply_decision(
    conversation: Conversation,
    decision: engine.Decision,
    snapshot: Snapshot,
    now: datetime,
    *,
    front: bool = False,
    tell: bool = True,
) -> Conversation:
    """Write ``decision`` (``tell``: as ``apply_queue`` takes it)."""
    _count(decision)
    if isinstance(decision, engine.Assign):
        return apply_assign(conversation, decision, snapshot, now)
    if isinstance(decision, engine.Queue):
        return apply_queue(
            conversation, decision.candidates, now, front=front, snapshot=snapshot, tell=tell
        )
    if isinstance(decision, engine.Pool):
        return apply_pool(conversation, decision.candidates, now)
    assert isinstance(decision, engine.Keep), "a refused transfer is the caller's to answer"
    return conversation


def _locked(conversation_ids: list[int]) -> dict[int, Conversation]:
    """Lock and read these conversations (in id order). The shop lock keeps their routing
    state still, but messages move ``last_seq`` and ``buyer_wrote`` under the row lock only."""
    if not conversation_ids:
        return {}
    rows = Conversation.objects.select_for_update(of=("self",)).select_related("buyer", "product")
    return {c.pk: c for c in rows.filter(pk__in=conversation_ids).order_by("id")}


def dispatch(
    *, shop_id: int, now: datetime | None = None, snapshot: Snapshot | None = None
) -> list[Conversation]:
    """Give free slots to waiting buyers: the queue in order, then the pool oldest first.

    Runs in the caller's transaction under the shop's lock (taken here if the caller has not);
    safe to call whenever a slot may have freed (close, transfer away, agent online or unpaused,
    max raised) and periodically. ``snapshot``: the caller's, kept true by its writes.
    """
    now = now or timezone.now()
    if snapshot is None:
        snapshot = locked_snapshot(shop_id, now)
    assigned: list[Conversation] = []
    if not snapshot.anyone_free:
        return assigned
    _dispatch(shop_id, now, snapshot, assigned)
    return assigned


def _dispatch(
    shop_id: int, now: datetime, snapshot: Snapshot, assigned: list[Conversation]
) -> None:
    waiting = [
        Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED).order_by(
            *queue_order(snapshot.settings.queue_order)
        )
    ]
    if snapshot.settings.pool_auto_assign:
        waiting.append(
            Conversation.objects.filter(shop_id=shop_id, state=State.POOLED).order_by(
                "pooled_at", "id"
            )
        )
    for queryset in waiting:  # queued buyers go before pooled conversations (C3)
        if not snapshot.anyone_free:
            break
        rows = list(queryset.values_list("pk", "candidate_ids", "candidate_group_ids"))
        made, _after = engine.dispatch(
            [engine.Waiting(pk, candidates_from(ids, groups)) for pk, ids, groups in rows],
            snapshot.agents,
            snapshot.rules,
        )
        # The rows were read without a lock; a buyer may have written since (message_create
        # locks the row, not the shop). Lock and read the chosen ones so that the full save
        # in apply_assign keeps their messages' fields (SPEC N: nothing lost).
        fresh = _locked([conversation_id for conversation_id, _decision in made])
        for conversation_id, decision in made:
            conversation = fresh[conversation_id]
            pooled = conversation.state == State.POOLED
            reason = engine.Reason.POOL if pooled else engine.Reason.QUEUE
            assigned.append(
                apply_assign(
                    conversation,
                    engine.Assign(
                        decision.agent_id, reason, False, decision.candidates, decision.wrr
                    ),
                    snapshot,
                    now,
                )
            )


def release(conversation: Conversation, snapshot: Snapshot | None = None) -> None:
    """The holding agent's load drops by one (the conversation leaves ``active``); with
    ``snapshot``, the in-memory copy follows, for the next decision under the same lock."""
    if conversation.state == State.ACTIVE:
        _move_load(conversation.agent_id, -1)
        if snapshot is not None and conversation.agent_id is not None:
            snapshot.moved(conversation.agent_id, open_delta=-1)


def reroute(
    *, conversation: Conversation, snapshot: Snapshot, now: datetime, front: bool = True
) -> Conversation:
    """B9a, D6: take ``conversation`` from its agent and route it within its scope; to the
    front of the queue when none can take it now. A private contact, and the main account's own
    offline message, stay (``engine.Keep``). Caller holds the shop lock."""
    leaving = conversation.agent_id
    request = routing_request(conversation, reroute=True, exclude_agent_id=leaving)
    decision = engine.decide(request, snapshot.agents, snapshot.groups, snapshot.rules, now)
    if isinstance(decision, engine.Keep):
        return conversation
    release(conversation, snapshot)
    moved = apply_decision(conversation, decision, snapshot, now, front=front)
    if leaving is not None:  # told after the move, so its copy shows where the buyer went
        events.conversation_updated(moved, former_agent_id=leaving)
    return moved


def route_stranded(shop_id: int, now: datetime, snapshot: Snapshot) -> None:
    """SPEC C3: a buyer waits in the queue only "as long as any candidate is online or paused
    (when all are offline, B9 and B11 apply)". When the last present candidate of a queued
    conversation goes offline (or leaves routing), it is decided again as if the buyer asked
    now: B9b widens to every participant, else B11. If it must still wait, it keeps its place
    in the queue with the widened candidates. Caller holds the shop lock."""
    present = {a.id for a in snapshot.agents if a.present}
    participants = {a.id for a in snapshot.agents if a.routing_enabled and a.can_chat}
    queued = (
        Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED)
        .order_by(*queue_order(snapshot.settings.queue_order))
        .values_list("pk", "candidate_ids")
    )
    stranded = [
        pk
        for pk, ids in queued
        if not ((participants if ids is None else {int(i) for i in ids}) & present)
    ]
    fresh = _locked(stranded)  # see dispatch: keep what buyers wrote meanwhile
    for conversation_id in stranded:
        conversation = fresh[conversation_id]
        request = routing_request(conversation)
        decision = engine.decide(request, snapshot.agents, snapshot.groups, snapshot.rules, now)
        if isinstance(decision, engine.Queue):
            _store_candidates(conversation, decision.candidates)
            conversation.save(update_fields=["candidate_ids", "candidate_group_ids"])
        else:
            apply_decision(conversation, decision, snapshot, now)
