"""Webhook deliveries (SPEC H4; docs/integrations.md): thin entry points over ``delivery``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.integrations import delivery


def _attempt_later(delivery_id: int, countdown: float) -> None:
    """Queue an attempt: at once, or after ``countdown`` seconds when that is within
    ``MAX_COUNTDOWN_SECONDS`` (later ones are the sweep's). The embedded mode runs tasks in
    the caller's thread: there every attempt is the sweep's, never inside a request."""
    if settings.CELERY_TASK_ALWAYS_EAGER or countdown > delivery.MAX_COUNTDOWN_SECONDS:
        return
    webhook_deliver.apply_async((delivery_id,), countdown=max(0.0, countdown))


@shared_task(name="integrations.webhook_event")
def webhook_event(shop_id: int, event: dict[str, Any]) -> None:
    """An event the shop's webhooks take (``apps.integrations.publish``): its deliveries, and
    their first attempts at once."""
    for delivery_id in delivery.event_fan_out(shop_id=shop_id, event=event):
        _attempt_later(delivery_id, 0)


@shared_task(name="integrations.webhook_deliver")
def webhook_deliver(delivery_id: int) -> None:
    """One attempt of a delivery, and the next one queued when it failed."""
    outcome = delivery.delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_at is not None:
        _attempt_later(delivery_id, (outcome.retry_at - timezone.now()).total_seconds())


@shared_task(name="integrations.webhooks_due")
def webhooks_due() -> None:
    """Beat: the deliveries whose attempt is due and was not queued (or was lost)."""
    grace = timedelta(0) if settings.CELERY_TASK_ALWAYS_EAGER else delivery.SWEEP_GRACE
    for delivery_id in delivery.deliveries_due(grace=grace):
        if settings.CELERY_TASK_ALWAYS_EAGER:
            webhook_deliver.apply((delivery_id,))
        else:
            webhook_deliver.delay(delivery_id)


@shared_task(name="integrations.webhooks_delete_old")
def webhooks_delete_old() -> int:
    """Beat: the delivery log's retention (``HELPDESK_WEBHOOK_LOG_DAYS``)."""
    return delivery.deliveries_delete_old()
