"""Agents' status, presence and capacity as they move conversations (SPEC B9, C3, A3).

Each service takes the shop's lock, then the rows, changes the agent and re-routes or dispatches
in the same transaction through ``outcomes``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.accounts.models import Account
from apps.conversations import events
from apps.conversations.lifecycle import automatic
from apps.conversations.lifecycle.outcomes import dispatch, reroute, route_stranded
from apps.conversations.models import Conversation, State
from apps.events.services import batched_events
from apps.routing.locking import lock_shop
from apps.routing.models import AgentState, AgentStatus, StatusChange
from apps.routing.snapshot import Snapshot, load_snapshot, locked_snapshot


def agent_state_create(*, account: Account, routing_enabled: bool = True) -> AgentState:
    """Every account starts offline (API.md, accounts)."""
    return AgentState.objects.create(
        shop_id=account.shop_id, account=account, routing_enabled=routing_enabled
    )


def _reroute_held(account: Account, snapshot: Snapshot, now: datetime) -> None:
    """B9a: every active conversation ``account`` holds is re-routed (a private contact and the
    main account's own offline message stay: ``engine.decide``)."""
    held = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(shop_id=account.shop_id, agent_id=account.pk, state=State.ACTIVE)
        .select_related("buyer", "product")
    )
    for conversation in held.order_by("assigned_at", "id"):
        reroute(conversation=conversation, snapshot=snapshot, now=now)


def _lock_held(account: Account) -> list[Conversation]:
    """Lock the conversations ``account`` holds before the first event to it: a buyer writing
    in one locks the row, then the agent's event counter; taking the counter first and the row
    later (B9a re-routing) deadlocked against it (SPEC N, B9a). Returns them."""
    return list(
        Conversation.objects.select_for_update()
        .filter(shop_id=account.shop_id, agent_id=account.pk, state=State.ACTIVE)
        .order_by("id")
    )


@transaction.atomic
def agent_set_status(
    *,
    account: Account,
    status: AgentStatus,
    reason: str = "agent",
    now: datetime | None = None,
    reroute_always: bool = False,
) -> AgentState:
    """Set an agent's status; an explicit call is also a presence heartbeat.

    Going online or unpausing frees slots (C3); going offline re-routes (B9a, C7), when offline
    routing is on or ``reroute_always`` (a deleted account keeps no offline messages). A newly
    eligible agent starts the even rule from zero, with no catch-up (B5). One snapshot serves
    the whole change.
    """
    # One statement for every event of the change.
    with batched_events():
        return _set_status(account, status, reason, now or timezone.now(), reroute_always)


def _set_status(
    account: Account, status: AgentStatus, reason: str, now: datetime, reroute_always: bool
) -> AgentState:
    lock_shop(account.shop_id)
    state = AgentState.objects.select_for_update().get(account=account)
    going_offline = status == AgentStatus.OFFLINE and state.status != AgentStatus.OFFLINE
    pausing = status == AgentStatus.PAUSED and state.status == AgentStatus.ONLINE
    held: list[Conversation] = []
    if going_offline or pausing or (reroute_always and status == AgentStatus.OFFLINE):
        held = _lock_held(account)
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
    if previous == status and not reroute_always:
        return state
    if previous != status:
        events.agent_status(account, status)
    snapshot = load_snapshot(account.shop_id, now)
    if pausing:  # seed 001: its buyers learn why the answers stop for a while
        automatic.paused(held, settings=snapshot.settings, now=now)
    if status == AgentStatus.OFFLINE:
        if snapshot.settings.offline_routing or reroute_always:
            _reroute_held(account, snapshot, now)
        route_stranded(account.shop_id, now, snapshot)
    dispatch(shop_id=account.shop_id, now=now, snapshot=snapshot)
    return state


@transaction.atomic
def agent_remove(*, account: Account, now: datetime | None = None) -> None:
    """Before an account is deleted (A3): it goes offline, and every conversation it still
    holds is re-routed as by B9a, even with offline routing off (a deleted account can keep no
    offline messages). Call ``capacity_changed`` once it is gone, for the queued buyers it
    leaves stranded (C3)."""
    agent_set_status(
        account=account, status=AgentStatus.OFFLINE, reason="deleted", now=now, reroute_always=True
    )


@transaction.atomic
def agent_left_routing(*, account: Account, now: datetime | None = None) -> None:
    """The account stopped receiving buyers while keeping its status (``chat`` revoked, or
    routing turned off for it): like disabling it for routing (amended A4), its open
    conversations are re-routed as in B9a and the queued buyers it was the last candidate of
    are decided again (C3). Call after the change, in the same transaction."""
    now = now or timezone.now()
    lock_shop(account.shop_id)
    _lock_held(account)
    snapshot = load_snapshot(account.shop_id, now)
    _reroute_held(account, snapshot, now)
    route_stranded(account.shop_id, now, snapshot)
    dispatch(shop_id=account.shop_id, now=now, snapshot=snapshot)


@transaction.atomic
def capacity_changed(*, shop_id: int, now: datetime | None = None) -> list[Conversation]:
    """A max was raised, a group changed or an agent joined routing: free slots may exist.
    An agent leaving routing or a group may also strand queued buyers (C3)."""
    now = now or timezone.now()
    snapshot = locked_snapshot(shop_id, now)
    route_stranded(shop_id, now, snapshot)
    return dispatch(shop_id=shop_id, now=now, snapshot=snapshot)


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
    rows = (
        AgentState.objects.filter(shop_id=shop_id)
        .annotate(
            truth=Count(
                "account__conversations",
                filter=Q(account__conversations__state=State.ACTIVE),
            )
        )
        .values_list("account_id", "open_count", "truth")
    )
    return {account: (counter, truth) for account, counter, truth in rows if counter != truth}
