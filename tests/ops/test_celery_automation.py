"""A real Celery worker and Celery beat, as subprocesses on the Redis broker, end a conversation
for buyer silence (SPEC D5) with a short timeout configured by the shop.

The children use the test database of pytest-django (committed data: ``transaction=True``),
passed as ``DATABASE_URL``, and a Redis database of their own. Waits are bounded; both process
groups are killed whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis
from django.db import connection

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle as conv
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Conversation, Message, State
from apps.routing.models import AgentStatus
from apps.shopdata.models import Buyer

from .launcher import BASE_DIR, group_processes, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Away from `make run` (0), `make test` (1), the launcher tests (14) and other checkouts.
CELERY_REDIS_DB = 13


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _redis_url() -> str:
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1").rsplit("/", 1)[0]
    return f"{base}/{CELERY_REDIS_DB}"


@contextmanager
def celery(kind: str, args: list[str], env: dict[str, str], log: Path) -> Iterator[Path]:
    """``celery -A config <kind>`` in its own session; killed with its group at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", kind, "--loglevel=INFO", *args],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log
    finally:
        if group_processes(process.pid) or process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def test_worker_and_beat_end_a_conversation_after_the_buyers_short_silence(shop_a, tmp_path):
    # given a shop that ends conversations after 3 s of buyer silence (warning 1 s before)
    settings = shop_a.shop.settings
    settings.buyer_silence_seconds = 3
    settings.buyer_warning_seconds = 1
    settings.language = "en"
    settings.save()
    agent = shop_a.sub("a", {Perm.CHAT})
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    redis.Redis.from_url(_redis_url()).flushdb()  # its own database: no stale ticks
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HELPDESK_EMBEDDED", "DJANGO_ENV") and not k.startswith("PYTEST_")
    }
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=_redis_url(),
        HELPDESK_TIMER_TICK_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    worker_args = ["--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    beat_args = ["--schedule", str(tmp_path / "beat-schedule")]
    with (
        celery("worker", worker_args, env, tmp_path / "worker.log") as worker_log,
        celery("beat", beat_args, env, tmp_path / "beat.log") as beat_log,
    ):
        wait_for(
            "the worker", lambda: "ready." in worker_log.read_text(errors="replace"), 60, worker_log
        )
        wait_for(
            "beat", lambda: "Starting..." in beat_log.read_text(errors="replace"), 60, beat_log
        )
        # when a buyer is served (the welcome starts the buyer's clock) and says nothing more
        buyer = Buyer.objects.create(shop=shop_a.shop, external_id="silent")
        c = conv.request_human(conversation=conv.conversation_open(buyer=buyer))
        assert c.state == State.ACTIVE

        # then beat's ticks make the worker warn the buyer, then end the conversation
        def closed() -> bool:
            return Conversation.objects.get(pk=c.pk).state == State.CLOSED

        wait_for("the buyer-silence close", closed, 45, worker_log)
    c = Conversation.objects.get(pk=c.pk)
    assert c.close_reason == "buyer_silence"
    bodies = list(Message.objects.filter(conversation=c).values_list("body", flat=True))
    assert any(b.startswith("Hello, we have not heard from you") for b in bodies)
    assert any("3 seconds" in b for b in bodies)
    assert "automation.silence_timeouts" in worker_log.read_text(errors="replace")
