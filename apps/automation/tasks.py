"""Periodic automation (Celery beat, schedule in config/celery.py). Thin entry points: each finds
what is due and calls the services; running twice, or two at once, is harmless."""

from __future__ import annotations

from celery import shared_task

from apps.automation import services


@shared_task(name="automation.silence_timeouts")
def silence_timeouts() -> int:
    """SPEC D5, D6: buyer and agent warnings, buyer-silence closes, agent-silence actions."""
    return services.timers_run_due().total


@shared_task(name="automation.pool_hand_out")
def pool_hand_out() -> int:
    """SPEC B11: pooled conversations to agents who are free, oldest first."""
    return services.pool_hand_out()
