"""Periodic work (Celery beat, schedule in config/celery.py). Each task is an entry point like a
view: it finds what is due and calls the lifecycle; running twice, or two at once, is harmless.
The task names are stable (beat schedules and running workers know them)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from apps.conversations import lifecycle, retention
from apps.conversations.models import Conversation, State

logger = logging.getLogger(__name__)


def _shops_with(*states: State) -> list[int]:
    return list(
        Conversation.objects.filter(state__in=states).values_list("shop_id", flat=True).distinct()
    )


@shared_task(name="routing.presence_expire")
def presence_expire() -> int:
    """Agents whose last heartbeat is older than the grace period go offline (SPEC B9)."""
    return lifecycle.presence_expire()


@shared_task(name="routing.queue_positions")
def queue_positions() -> int:
    """Coalesced queue.updated pushes to waiting buyers (C5)."""
    return sum(
        lifecycle.queue_push_updates(shop_id=shop_id) for shop_id in _shops_with(State.QUEUED)
    )


@shared_task(name="routing.dispatch_safety_net")
def dispatch_safety_net() -> int:
    """C3 safety net: free slots take waiting buyers even if an event was missed, and a
    request for a human whose process died before deciding it is decided."""
    assigned = 0
    pending = Conversation.objects.filter(state=State.ASSISTANT, human_requested_at__isnull=False)
    for shop_id in pending.values_list("shop_id", flat=True).distinct():
        assigned += lifecycle.route_pending(shop_id=shop_id)
    for shop_id in _shops_with(State.QUEUED, State.POOLED):
        with transaction.atomic():
            assigned += len(lifecycle.dispatch(shop_id=shop_id))
    return assigned


@shared_task(name="routing.load_drift_check")
def load_drift_check() -> int:
    """Report load counters that differ from the conversations (there should be none)."""
    shops = list(Conversation.objects.values_list("shop_id", flat=True).distinct())
    drifted = 0
    for shop_id in shops:
        drift = lifecycle.load_drift(shop_id=shop_id)
        if drift:
            drifted += len(drift)
            logger.error("Load counter drift in shop %s: %s", shop_id, drift)
    return drifted


@shared_task(name="automation.silence_timeouts")
def silence_timeouts() -> int:
    """SPEC D5, D6: buyer and agent warnings, buyer-silence closes, agent-silence actions."""
    return lifecycle.timers_run_due().total


@shared_task(name="automation.pool_hand_out")
def pool_hand_out() -> int:
    """SPEC B11: pooled conversations to agents who are free, oldest first."""
    return lifecycle.pool_hand_out()


@shared_task(name="conversations.retention_purge")
def retention_purge() -> int:
    """SPEC I6: closed conversations past their shop's retention period, with their files."""
    return retention.retention_purge()
