"""The Celery app and the beat schedule (kept here, in one place)."""

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Interval schedules only (timedelta): the embedded mode's in-process scheduler runs the same list.
app.conf.beat_schedule = {
    "presence-expire": {"task": "routing.presence_expire", "schedule": timedelta(seconds=10)},
    "queue-positions": {"task": "routing.queue_positions", "schedule": timedelta(seconds=5)},
    "dispatch-safety-net": {
        "task": "routing.dispatch_safety_net",
        "schedule": timedelta(seconds=30),
    },
    "events-delete-expired": {"task": "events.delete_expired", "schedule": timedelta(hours=1)},
    "load-drift-check": {"task": "routing.load_drift_check", "schedule": timedelta(minutes=10)},
}
