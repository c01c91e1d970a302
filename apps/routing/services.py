"""Writes to the agents' routing state. The routing engine itself comes with the routing core."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.core.realtime import account_group, send_to_group_on_commit
from apps.routing.models import AgentState, AgentStatus, StatusChange


def agent_state_create(*, account: Account, routing_enabled: bool = True) -> AgentState:
    """Every account starts offline (API.md, accounts)."""
    return AgentState.objects.create(
        shop_id=account.shop_id, account=account, routing_enabled=routing_enabled
    )


@transaction.atomic
def agent_set_status(
    *, account: Account, status: AgentStatus, reason: str = "agent", now: datetime | None = None
) -> AgentState:
    """Set an agent's status; an explicit call is also a presence heartbeat."""
    now = now or timezone.now()
    state = AgentState.objects.select_for_update().get(account=account)
    state.last_seen_at = now if status != AgentStatus.OFFLINE else state.last_seen_at
    fields = ["last_seen_at"]
    if state.status != status:
        state.status = status
        state.status_changed_at = now
        fields += ["status", "status_changed_at"]
        StatusChange.objects.create(
            shop_id=account.shop_id, account=account, status=status, reason=reason, at=now
        )
        send_to_group_on_commit(
            account_group(account.pk),
            {"type": "agent.status", "account": account.pk, "status": str(status)},
        )
    state.save(update_fields=fields)
    return state


def agent_heartbeat(*, account_id: int, now: datetime | None = None) -> None:
    """A socket ping: presence only, never a status change (API.md, status)."""
    AgentState.objects.filter(account_id=account_id).update(last_seen_at=now or timezone.now())


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
