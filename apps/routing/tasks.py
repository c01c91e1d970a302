from __future__ import annotations

from celery import shared_task

from apps.routing import services


@shared_task(name="routing.presence_expire")
def presence_expire() -> int:
    """Agents whose last heartbeat is older than the grace period go offline (SPEC B9)."""
    return services.presence_expire()
