"""Periodic routing work (Celery beat, schedule in config/celery.py). Each task is an entry point
like a view: it finds what is due and calls the same services; running twice is harmless."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from apps.conversations.models import Conversation, State
from apps.conversations.services import queue_push_updates
from apps.routing.services import dispatch, load_drift

logger = logging.getLogger(__name__)


def _shops_with(*states: State) -> list[int]:
    return list(
        Conversation.objects.filter(state__in=states).values_list("shop_id", flat=True).distinct()
    )


@shared_task(name="routing.queue_positions")
def queue_positions() -> int:
    """Coalesced queue.updated pushes to waiting buyers (C5)."""
    return sum(queue_push_updates(shop_id=shop_id) for shop_id in _shops_with(State.QUEUED))


@shared_task(name="routing.dispatch_safety_net")
def dispatch_safety_net() -> int:
    """C3 safety net: free slots take waiting buyers even if an event was missed."""
    assigned = 0
    for shop_id in _shops_with(State.QUEUED, State.POOLED):
        with transaction.atomic():
            assigned += len(dispatch(shop_id=shop_id))
    return assigned


@shared_task(name="routing.load_drift_check")
def load_drift_check() -> int:
    """Report load counters that differ from the conversations (there should be none)."""
    shops = list(Conversation.objects.values_list("shop_id", flat=True).distinct())
    drifted = 0
    for shop_id in shops:
        drift = load_drift(shop_id=shop_id)
        if drift:
            drifted += len(drift)
            logger.error("Load counter drift in shop %s: %s", shop_id, drift)
    return drifted
