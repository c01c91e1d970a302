"""Routing with locking and persistence around the pure engine (DESIGN, routing decision).

Every function that may change who holds a conversation or an agent's load takes the shop's
transaction-scoped advisory lock first (``lock_shop``), loads a snapshot of the agents, calls the
engine and writes the outcome in the same transaction. Decisions for one shop are serialized
across processes; shops run in parallel.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import Account, ShopAccountPermission
from apps.automation import replies, timers
from apps.conversations.models import Conversation, State
from apps.conversations.selectors import queue_order, routing_request
from apps.events.services import emit, to_account, to_buyer
from apps.routing import engine
from apps.routing.models import AgentState, AgentStatus, Group, StatusChange
from apps.shops.models import ShopSettings

ADVISORY_NAMESPACE = 0x5348  # two-key advisory locks: (namespace, shop id)


def lock_shop(shop_id: int) -> None:
    """Serialize routing for one shop until the transaction ends.

    PostgreSQL: ``pg_advisory_xact_lock``. SQLite (the single-process embedded mode) serializes
    writers itself.
    """
    assert transaction.get_connection().in_atomic_block, "lock_shop() needs a transaction"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, shop_id])


# ---------------------------------------------------------------------------------------------
# Snapshot: the engine's plain data, read under the lock


@dataclass
class Snapshot:
    settings: ShopSettings
    rules: engine.Settings
    agents: list[engine.Agent]
    groups: list[engine.Group]
    today: date

    @property
    def main_id(self) -> int | None:
        return next((a.id for a in self.agents if a.is_main), None)

    def agent(self, agent_id: int) -> engine.Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def members_of(self, group_id: int) -> frozenset[int]:
        return frozenset(a.id for a in self.agents if a.group_id == group_id)


def shop_today(time_zone: str, now: datetime) -> date:
    """The calendar day in the shop's time zone (SPEC D, "per day")."""
    return now.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def rules_of(settings: ShopSettings) -> engine.Settings:
    return engine.Settings(
        assignment_rule=engine.Rule(settings.assignment_rule),
        recent_contact_first=settings.recent_contact_first,
        buyer_chooses_agent=settings.buyer_chooses_agent,
        queue_mode=engine.QueueMode(settings.queue_mode),
        queue_groups=frozenset(int(g) for g in settings.queue_groups),
        reentry_window_seconds=settings.reentry_window_seconds,
        offline_routing=settings.offline_routing,
        offline_handling=engine.OfflineHandling(settings.offline_handling),
    )


def load_snapshot(shop_id: int, now: datetime) -> Snapshot:
    settings = ShopSettings.objects.select_related("shop").get(shop_id=shop_id)
    today = shop_today(settings.shop.time_zone, now)
    groups = list(Group.objects.filter(shop_id=shop_id))
    group_max = {g.pk: g.max_concurrent for g in groups}
    chatters = set(
        ShopAccountPermission.objects.filter(
            content_object_id=shop_id, permission__codename="chat"
        ).values_list("user_id", flat=True)
    )
    agents = []
    for state in AgentState.objects.filter(shop_id=shop_id).select_related("account"):
        account = state.account
        is_main = account.is_main
        agents.append(
            engine.Agent(
                id=account.pk,
                is_main=is_main,
                status=engine.Status(state.status),
                routing_enabled=state.routing_enabled,
                can_chat=account.is_active and (is_main or account.pk in chatters),
                group_id=state.group_id,
                weight=state.weight,
                max_concurrent=state.max_concurrent
                or (group_max.get(state.group_id) if state.group_id else None)
                or settings.default_max_concurrent,
                open_count=state.open_count,
                # B5 even: the state resets at midnight shop time.
                wrr_current=state.wrr_current if state.wrr_day == today else 0,
                last_assigned_at=state.last_assigned_at,
            )
        )
    return Snapshot(
        settings=settings,
        rules=rules_of(settings),
        agents=agents,
        groups=[
            engine.Group(
                id=g.pk,
                segments=frozenset(g.scope_segments),
                products=frozenset(g.scope_products),
                intents=frozenset(g.scope_intents),
                order_statuses=frozenset(g.scope_order_statuses),
            )
            for g in groups
        ],
        today=today,
    )


# ---------------------------------------------------------------------------------------------
# Writing outcomes


def candidates_of(conversation: Conversation) -> engine.Candidates:
    ids = conversation.candidate_ids
    return engine.Candidates(
        None if ids is None else frozenset(int(i) for i in ids),
        frozenset(int(g) for g in conversation.candidate_group_ids),
    )


def _store_candidates(conversation: Conversation, candidates: engine.Candidates) -> None:
    ids = candidates.agent_ids
    conversation.candidate_ids = None if ids is None else sorted(ids)
    conversation.candidate_group_ids = sorted(candidates.group_ids)


def _move_load(agent_id: int | None, delta: int) -> None:
    if agent_id is not None:
        AgentState.objects.filter(account_id=agent_id).update(open_count=F("open_count") + delta)


def _conversation_event(conversation: Conversation, type: str, **extra: object) -> None:
    """``type`` to the holding agent, ``conversation.updated`` to the buyer."""
    from apps.conversations.payloads import conversation_payload

    data = conversation_payload(conversation)
    if conversation.agent_id is not None:
        emit(
            shop_id=conversation.shop_id,
            recipients=[to_account(conversation.agent_id)],
            type=type,
            data={**data, **extra},
        )
    emit(
        shop_id=conversation.shop_id,
        recipients=[to_buyer(conversation.buyer_id)],
        type="conversation.updated",
        data=data,
    )


def apply_assign(
    conversation: Conversation, decision: engine.Assign, snapshot: Snapshot, now: datetime
) -> Conversation:
    """Hand ``conversation`` to ``decision.agent_id``: state, load, wrr, events."""
    agent = snapshot.agent(decision.agent_id)
    assert agent is not None
    leaving_pool = conversation.state == State.POOLED
    conversation.state = State.ACTIVE
    conversation.agent_id = agent.id
    conversation.group_id = agent.group_id
    conversation.assigned_at = now
    conversation.assign_reason = decision.reason.value
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
    conversation.save()
    AgentState.objects.filter(account_id=agent.id).update(
        open_count=F("open_count") + 1, last_assigned_at=now
    )
    for agent_id, current in decision.wrr.items():
        AgentState.objects.filter(account_id=agent_id).update(
            wrr_current=current, wrr_day=snapshot.today
        )
    _refresh_snapshot_agent(snapshot, agent.id, open_delta=1, wrr=decision.wrr, assigned_at=now)
    _conversation_event(conversation, "conversation.assigned")
    replies.welcome(conversation, settings=snapshot.settings, agent_present=present, now=now)
    return conversation


def _refresh_snapshot_agent(
    snapshot: Snapshot,
    agent_id: int,
    *,
    open_delta: int,
    wrr: dict[int, int],
    assigned_at: datetime | None = None,
) -> None:
    """Keep the in-memory snapshot true after a write, for the next decision in this lock."""
    agents = []
    for a in snapshot.agents:
        if a.id == agent_id:
            a = replace(a, open_count=a.open_count + open_delta)
            if assigned_at is not None:
                a = replace(a, last_assigned_at=assigned_at)
        if a.id in wrr:
            a = replace(a, wrr_current=wrr[a.id])
        agents.append(a)
    snapshot.agents = agents


def apply_queue(
    conversation: Conversation,
    candidates: engine.Candidates,
    now: datetime,
    *,
    front: bool = False,
) -> Conversation:
    """C3: wait in the queue; ``front`` for conversations re-queued by B9a, D6 and B12."""
    conversation.state = State.QUEUED
    conversation.agent_id = None
    conversation.queue_priority = 1 if front else 0
    if conversation.queued_at is None or front:
        conversation.queued_at = now
    _store_candidates(conversation, candidates)
    timers.stop(conversation)
    conversation.save()
    _conversation_event(conversation, "conversation.updated")
    replies.queueing(conversation, now=now)  # D3
    return conversation


def apply_pool(
    conversation: Conversation, candidates: engine.Candidates, now: datetime
) -> Conversation:
    """B11 `pool`: held by the service assistant, in nobody's load."""
    conversation.state = State.POOLED
    conversation.agent_id = None
    conversation.pooled_at = now
    _store_candidates(conversation, candidates)
    timers.stop(conversation)
    conversation.save()
    _conversation_event(conversation, "conversation.updated")
    return conversation


def apply_decision(
    conversation: Conversation,
    decision: engine.Decision,
    snapshot: Snapshot,
    now: datetime,
    *,
    front: bool = False,
) -> Conversation:
    if isinstance(decision, engine.Assign):
        return apply_assign(conversation, decision, snapshot, now)
    if isinstance(decision, engine.Queue):
        return apply_queue(conversation, decision.candidates, now, front=front)
    return apply_pool(conversation, decision.candidates, now)


def _locked(conversation_ids: list[int]) -> dict[int, Conversation]:
    """Lock and read these conversations (in id order). The shop lock keeps their routing
    state still, but messages move ``last_seq`` and ``buyer_wrote`` under the row lock only."""
    rows = Conversation.objects.select_for_update(of=("self",)).select_related("buyer", "product")
    return {c.pk: c for c in rows.filter(pk__in=conversation_ids).order_by("id")}


# ---------------------------------------------------------------------------------------------
# Dispatch (C3, B11 auto-assign)


def dispatch(*, shop_id: int, now: datetime | None = None) -> list[Conversation]:
    """Give free slots to waiting buyers: the queue in order, then the pool oldest first.

    Runs inside the caller's transaction after ``lock_shop``; safe to call whenever a slot may
    have freed (close, transfer away, agent online or unpaused, max raised) and periodically.
    """
    now = now or timezone.now()
    lock_shop(shop_id)
    snapshot = load_snapshot(shop_id, now)
    assigned: list[Conversation] = []
    if not any(a.eligible and a.below_max for a in snapshot.agents):
        return assigned
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
        conversations = {c.pk: c for c in queryset}
        made, _after = engine.dispatch(
            [engine.Waiting(c.pk, candidates_of(c)) for c in conversations.values()],
            snapshot.agents,
            snapshot.rules,
        )
        # The rows were read without a lock; a buyer may have written since (message_create
        # locks the row, not the shop). Lock and re-read the chosen ones so that the full save
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
    return assigned


# ---------------------------------------------------------------------------------------------
# Agents


def agent_state_create(*, account: Account, routing_enabled: bool = True) -> AgentState:
    """Every account starts offline (API.md, accounts)."""
    return AgentState.objects.create(
        shop_id=account.shop_id, account=account, routing_enabled=routing_enabled
    )


def release(conversation: Conversation, snapshot: Snapshot | None = None) -> None:
    """The holding agent's load drops by one (the conversation leaves ``active``); with
    ``snapshot``, the in-memory copy follows, for the next decision under the same lock."""
    if conversation.state == State.ACTIVE:
        _move_load(conversation.agent_id, -1)
        if snapshot is not None and conversation.agent_id is not None:
            _refresh_snapshot_agent(snapshot, conversation.agent_id, open_delta=-1, wrr={})


def reroute(
    *, conversation: Conversation, snapshot: Snapshot, now: datetime, front: bool = True
) -> Conversation:
    """B9a, D6: take ``conversation`` from its agent and route it within its candidates; to the
    front of the queue when none can take it now. Caller holds the shop lock."""
    leaving = conversation.agent_id
    request = routing_request(conversation, reroute=True, exclude_agent_id=leaving)
    decision = engine.decide(request, snapshot.agents, snapshot.groups, snapshot.rules, now)
    if isinstance(decision, engine.Assign) and decision.agent_id == leaving:
        return conversation  # B11 `main_account` for the main account's own: it stays
    release(conversation, snapshot)
    if leaving is not None:
        emit(
            shop_id=conversation.shop_id,
            recipients=[to_account(leaving)],
            type="conversation.updated",
            data={"id": conversation.pk, "state": "reassigned", "agent": None},
        )
    return apply_decision(conversation, decision, snapshot, now, front=front)


def _went_offline(account: Account, now: datetime) -> None:
    """B9a: the conversations of an agent who went offline are re-routed (or stay, when
    offline routing is off, as its offline messages). Private contacts always stay (B8)."""
    snapshot = load_snapshot(account.shop_id, now)
    if not snapshot.settings.offline_routing:
        return
    held = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(shop_id=account.shop_id, agent_id=account.pk, state=State.ACTIVE)
        .exclude(assign_reason=engine.Reason.PRIVATE_CONTACT.value)
        .select_related("buyer", "product")
    )
    for conversation in held.order_by("assigned_at", "id"):
        reroute(conversation=conversation, snapshot=snapshot, now=now)


@transaction.atomic
def agent_set_status(
    *, account: Account, status: AgentStatus, reason: str = "agent", now: datetime | None = None
) -> AgentState:
    """Set an agent's status; an explicit call is also a presence heartbeat.

    Going online or unpausing frees slots (C3); going offline re-routes (B9a, C7). A newly
    eligible agent starts the even rule from zero, with no catch-up (B5).
    """
    now = now or timezone.now()
    lock_shop(account.shop_id)
    state = AgentState.objects.select_for_update().get(account=account)
    if status == AgentStatus.OFFLINE and state.status != AgentStatus.OFFLINE:
        # Lock the conversations it holds before the first event to it: a buyer writing in one
        # locks the row, then the agent's event counter; taking the counter first (the event
        # below) and the row later (B9a re-routing) deadlocked against it (SPEC N, B9a).
        list(
            Conversation.objects.select_for_update()
            .filter(shop_id=account.shop_id, agent_id=account.pk, state=State.ACTIVE)
            .order_by("id")
            .values_list("id", flat=True)
        )
    if status != AgentStatus.OFFLINE:
        state.last_seen_at = now
    fields = ["last_seen_at"]
    previous = state.status
    if previous != status:
        state.status = status
        state.status_changed_at = now
        fields += ["status", "status_changed_at"]
        if status == AgentStatus.ONLINE:
            state.wrr_current = 0
            fields.append("wrr_current")
        StatusChange.objects.create(
            shop_id=account.shop_id, account=account, status=status, reason=reason, at=now
        )
    state.save(update_fields=fields)
    if previous != status:
        emit(
            shop_id=account.shop_id,
            recipients=[to_account(account.pk)],
            type="agent.status",
            data={"account": account.pk, "status": str(status)},
        )
        if status == AgentStatus.OFFLINE:
            _went_offline(account, now)
            _route_stranded(account.shop_id, now)
        dispatch(shop_id=account.shop_id, now=now)
    return state


def _route_stranded(shop_id: int, now: datetime) -> None:
    """SPEC C3: a buyer waits in the queue only "as long as any candidate is online or paused
    (when all are offline, B9 and B11 apply)". When the last present candidate of a queued
    conversation goes offline (or leaves routing), it is decided again as if the buyer asked
    now: B9b widens to every participant, else B11. If it must still wait, it keeps its place
    in the queue with the widened candidates. Caller holds the shop lock."""

    snapshot = load_snapshot(shop_id, now)
    present = {a.id for a in snapshot.agents if a.present}
    participants = {a.id for a in snapshot.agents if a.routing_enabled and a.can_chat}
    queued = Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED).order_by(
        *queue_order(snapshot.settings.queue_order)
    )
    stranded = [
        c.pk
        for c in queued
        if not (
            (participants if c.candidate_ids is None else {int(i) for i in c.candidate_ids})
            & present
        )
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


@transaction.atomic
def agent_remove(*, account: Account, now: datetime | None = None) -> None:
    """Before an account is deleted (A3): it goes offline, and every conversation it still
    holds is re-routed as by B9a, even with offline routing off (a deleted account can keep no
    offline messages). Without this its active conversations were left with no agent at all.
    Call ``capacity_changed`` once it is gone, for the queued buyers it leaves stranded (C3)."""
    now = now or timezone.now()
    agent_set_status(account=account, status=AgentStatus.OFFLINE, reason="deleted", now=now)
    snapshot = load_snapshot(account.shop_id, now)
    held = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(shop_id=account.shop_id, agent_id=account.pk, state=State.ACTIVE)
        .select_related("buyer", "product")
    )
    for conversation in held.order_by("assigned_at", "id"):
        reroute(conversation=conversation, snapshot=snapshot, now=now)


@transaction.atomic
def capacity_changed(*, shop_id: int, now: datetime | None = None) -> list[Conversation]:
    """A max was raised, a group changed or an agent joined routing: free slots may exist.
    An agent leaving routing or a group may also strand queued buyers (C3)."""
    now = now or timezone.now()
    lock_shop(shop_id)
    _route_stranded(shop_id, now)
    return dispatch(shop_id=shop_id, now=now)


PRESENCE_WRITE_SECONDS = 5


def agent_heartbeat(
    *, account_id: int, now: datetime | None = None, every: int = PRESENCE_WRITE_SECONDS
) -> None:
    """A socket ping: presence only, never a status change (API.md, status).

    Cheap (DESIGN, presence): the last-seen column is written at most once per ``every``
    seconds per agent, however many tabs and processes ping; it never moves backwards. A closing
    socket passes ``every=0`` so that the grace period counts from the moment it left."""
    now = now or timezone.now()
    AgentState.objects.filter(account_id=account_id).filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - timedelta(seconds=every))
    ).update(last_seen_at=now)


def presence_expire(*, now: datetime | None = None) -> int:
    """Turn agents offline whose last heartbeat is older than their shop's grace period."""
    now = now or timezone.now()
    stale = (
        AgentState.objects.exclude(status=AgentStatus.OFFLINE)
        .select_related("account", "shop__settings")
        .filter(last_seen_at__lt=now - timedelta(seconds=1))
    )
    expired = 0
    for state in stale.iterator():
        grace = state.shop.settings.offline_grace_seconds
        if state.last_seen_at and (now - state.last_seen_at).total_seconds() >= grace:
            agent_set_status(
                account=state.account, status=AgentStatus.OFFLINE, reason="presence", now=now
            )
            expired += 1
    return expired


def load_drift(*, shop_id: int) -> dict[int, tuple[int, int]]:
    """Agents whose load counter differs from their active conversations: ``{account: (counter,
    truth)}``. There should be none (DESIGN: counters move only inside the locked services)."""
    from django.db.models import Count, Q

    rows = AgentState.objects.filter(shop_id=shop_id).annotate(
        truth=Count(
            "account__conversations",
            filter=Q(account__conversations__state=State.ACTIVE),
        )
    )
    return {r.account_id: (r.open_count, r.truth) for r in rows if r.open_count != r.truth}
