"""The Celery app and the beat schedule (kept here, in one place)."""

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# How often the timers of SPEC D5, D6 tick. Read from the environment here, not from the Django
# settings: this module is imported with the `config` package, before `config.run` has chosen
# the mode the settings depend on.
TIMER_TICK_SECONDS = float(os.environ.get("HELPDESK_TIMER_TICK_SECONDS", "5"))

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _every(seconds: float) -> dict[str, object]:
    """An interval entry whose runs expire when the next one is due: a tick that waited in the
    broker longer than its interval (workers down or busy) is dropped, never piled up; the next
    one does the same work (every periodic task here is idempotent). No ETAs anywhere, so
    nothing waits in the broker near its visibility timeout."""
    return {"schedule": timedelta(seconds=seconds), "options": {"expires": seconds}}


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
    # SPEC D5, D6: due warnings, closes and agent-silence actions (due-at columns, indexed).
    "silence-timeouts": {
        "task": "automation.silence_timeouts",
        **_every(TIMER_TICK_SECONDS),
    },
    # SPEC B11: pooled conversations to free agents (also done at once when a slot frees).
    "pool-hand-out": {"task": "automation.pool_hand_out", **_every(10)},
    # SPEC G3: the metrics' daily rows of the finished days (today is computed live).
    "metrics-aggregate-days": {"task": "metrics.aggregate_days", **_every(600)},
    # SPEC H4: webhook attempts due and not queued (long backoffs, lost tasks), and the log's
    # retention.
    "webhooks-due": {"task": "integrations.webhooks_due", **_every(30)},
    "webhooks-delete-old": {"task": "integrations.webhooks_delete_old", **_every(3600)},
    # SPEC I6: closed conversations past the shop's retention period, with their files.
    "retention-purge": {"task": "conversations.retention_purge", **_every(3600)},
}
