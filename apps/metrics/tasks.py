from __future__ import annotations

from celery import shared_task

from apps.metrics import services


@shared_task(name="metrics.aggregate_days")
def aggregate_days() -> int:
    """SPEC G3: the daily rows of every shop's finished days (idempotent: it rewrites them)."""
    return services.aggregate_finished_days().days
