"""Agent presence from socket heartbeats (DESIGN, presence; API.md, status)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.routing.models import AgentState

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
