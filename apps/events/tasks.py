from __future__ import annotations

from celery import shared_task

from apps.events import services


@shared_task(name="events.delete_expired")
def delete_expired() -> int:
    """Retention of the event streams (DESIGN, events and delivery); harmless twice."""
    return services.events_delete_expired()
