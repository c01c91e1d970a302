"""Embedded mode: the Celery beat schedule run in-process by APScheduler (tasks run eagerly)."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

logger = logging.getLogger(__name__)


def start_in_process_scheduler() -> BackgroundScheduler:
    from config.celery import app

    # `autodiscover_tasks()` is lazy: import the apps' tasks modules before looking tasks up.
    app.loader.import_default_modules()
    # APScheduler logs every run at INFO; the task's own log line is enough.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(daemon=True)
    for name, entry in app.conf.beat_schedule.items():
        schedule = entry["schedule"]
        seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)
        task = app.tasks[entry["task"]]
        scheduler.add_job(
            task.apply, "interval", seconds=seconds, id=name, max_instances=1, coalesce=True
        )
    scheduler.start()
    logger.info("In-process scheduler runs: %s", ", ".join(app.conf.beat_schedule))
    return scheduler
