"""Agent presence from socket heartbeats (DESIGN, presence; API.md, status)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.routing.models import AgentState

PRESENCE_WRITE_SECONDS = 5
SOCKET_WRITE_MAX_SECONDS = 20.0


def socket_write_seconds(grace_seconds: float) -> float:
    """How often one socket's pings write ``last_seen_at`` at most: a third of the shop's grace
    period, and never less often than every 20 s. A write is due at the first ping after that
    interval, and pings come at least every third of the grace (``ping_seconds``), so the column
    is never older than two thirds of the grace while the socket lives."""
    return min(SOCKET_WRITE_MAX_SECONDS, grace_seconds / 3)


class HeartbeatGate:
    """One socket's memory of its last presence write (DESIGN, presence: heartbeats cost no
    database write each time). Wall-clock time, so that tests can move it."""

    def __init__(self, every_seconds: float) -> None:
        self.every = timedelta(seconds=every_seconds)
        self.written_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.written_at is None or now - self.written_at >= self.every

    def wrote(self, now: datetime) -> None:
        self.written_at = now


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
