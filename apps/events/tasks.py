"""Periodic event work (Celery beat, schedule in config/celery.py)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from apps.events.services import events_cleanup


@shared_task(name="events.cleanup")
def cleanup() -> int:
    """Retention (DESIGN, events and delivery): drop events older than the retention period."""
    return events_cleanup(older_than=timedelta(hours=settings.HELPDESK_EVENT_RETENTION_HOURS))
