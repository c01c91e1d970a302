"""`make run` (``python -m config.run``) as a newcomer sees it, in both of its modes.

Each test starts the real launcher in a subprocess on a free port, checks what the README promises
(the mode line, the pages, the demo logins, the background worker) and stops it the way a user
does, then checks that nothing it started is left running.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from psycopg import sql

from apps.web.demo import DEMO_LOGINS, DEMO_PASSWORD, DEMO_SLUG

from .launcher import BASE_DIR, alive, group_processes, launched, wait_for

pytestmark = pytest.mark.slow

CLOSED_POSTGRES = "postgres://postgres@127.0.0.1:1/x"
CLOSED_REDIS = "redis://127.0.0.1:1/0"
# A Redis database of its own, away from `make run` (0), `make test` (1) and other checkouts.
LAUNCHER_REDIS_DB = 14


def _server_url(env_name: str, default: str) -> str:
    return os.environ.get(env_name, default)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database name that does not exist yet on the real PostgreSQL; dropped afterwards."""
    base = urlsplit(_server_url("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    name = f"helpdesk_launcher_{uuid.uuid4().hex[:10]}"
    admin = {
        "host": base.hostname or "127.0.0.1",
        "port": base.port or 5432,
        "user": base.username or "postgres",
        "password": base.password,
        "dbname": "postgres",
        "autocommit": True,
        "connect_timeout": 5,
    }
    yield urlunsplit(base._replace(path=f"/{name}"))
    with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def launcher_redis() -> Iterator[str]:
    base = urlsplit(_server_url("REDIS_URL", "redis://127.0.0.1:6379/0"))
    url = urlunsplit(base._replace(path=f"/{LAUNCHER_REDIS_DB}"))
    client = redis.Redis.from_url(url, socket_timeout=5)
    client.flushdb()
    yield url
    client.flushdb()


def _call(launcher, method: str, path: str, body: object, auth: str | None) -> dict:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(
        launcher.base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **({"Authorization": auth} if auth else {})},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read() or b"null")


def _buyer_chat(launcher) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The demo shop's main account online with a new buyer who asked for a human."""
    staff = f"Token {_token_login(launcher, DEMO_SLUG)['token']}"
    _call(launcher, "POST", "/api/v1/me/status/", {"status": "online"}, staff)
    secret = _call(launcher, "GET", "/api/v1/settings/", None, staff)["widget_secret"]
    buyer_id = f"resume-{uuid.uuid4().hex[:8]}"
    signature = hmac.new(secret.encode(), buyer_id.encode(), hashlib.sha256).hexdigest()
    session = _call(
        launcher,
        "POST",
        "/api/v1/widget/session/",
        {"shop": DEMO_SLUG, "buyer_id": buyer_id, "signature": signature, "entrance": "product"},
        None,
    )
    buyer = f"Buyer {session['token']}"
    conversation = _call(launcher, "POST", "/api/v1/widget/conversation/", {"human": True}, buyer)
    return {"staff": staff, "buyer_token": session["token"], "conversation": conversation["id"]}


async def _read_stream(launcher, token: str, after: dict | None) -> list[dict]:  # type: ignore[no-untyped-def]
    """The buyer socket's stream events (``?after=`` the given frame's seq), until it is quiet."""
    from websockets.asyncio.client import connect

    query = f"token={token}" + (f"&after={after['stream_seq']}" if after else "&after=0")
    url = launcher.base.replace("http://", "ws://") + f"/ws/widget/?{query}"
    frames: list[dict] = []
    async with connect(url, origin=launcher.base, proxy=None, open_timeout=15) as ws:  # type: ignore[arg-type]
        while True:
            try:
                async with asyncio.timeout(2):
                    frame = json.loads(await ws.recv())
            except TimeoutError:
                return frames
            if "stream_seq" in frame:
                frames.append(frame)


def _parent(pid: int) -> int:
    """The parent process id of ``pid`` (from /proc), 0 once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _answers(launcher) -> bool:  # type: ignore[no-untyped-def]
    try:
        return launcher.get("/healthz")[0] == 200
    except OSError:
        return False


def _token_login(launcher, login: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    status, body = launcher.post(
        "/api/v1/auth/token/", {"username": login, "password": DEMO_PASSWORD}
    )
    assert status == 200, (login, status, body[:500])
    return json.loads(body)


def test_embedded_mode_serves_the_demo_shop_without_postgres_or_redis(tmp_path: Path) -> None:
    # given PostgreSQL and Redis URLs where nothing listens
    env = {
        "DATABASE_URL": CLOSED_POSTGRES,
        "REDIS_URL": CLOSED_REDIS,
        "EMBEDDED_SQLITE_PATH": str(tmp_path / "db" / "embedded.sqlite3"),
    }
    with launched(env, tmp_path / "embedded.log") as launcher:
        # when `make run` starts
        launcher.wait_until_running(timeout=120)

        # then it says on its first line that it runs embedded, and why
        first_line = launcher.output.splitlines()[0]
        assert first_line.startswith("Mode: EMBEDDED"), first_line
        assert "127.0.0.1:1" in first_line
        # and it serves the product and the demo shop's main account from one process
        assert launcher.get("/healthz")[0] == 200
        assert launcher.get("/api/docs/")[0] == 200
        token = _token_login(launcher, DEMO_SLUG)
        assert token["token"]
        assert token["account"]["kind"] == "main"  # type: ignore[index]
        assert (tmp_path / "db" / "embedded.sqlite3").exists()
        assert launcher.children() == {}, "the embedded mode is a single process"

        # when the user presses Ctrl-C (SIGINT to the whole foreground process group)
        code = launcher.stop(signal.SIGINT, whole_group=True, timeout=30)

        # then it exits cleanly and leaves nothing behind
        assert code == 0, launcher.output[-3000:]
        wait_for("the process group to be empty", lambda: not group_processes(launcher.pid), 10)


def test_full_mode_runs_web_worker_and_beat_and_stops_them_all(
    tmp_path: Path, fresh_database: str, launcher_redis: str
) -> None:
    # given a database that does not exist yet, a Redis database of its own and a beat file here
    env = {
        "DATABASE_URL": fresh_database,
        "REDIS_URL": launcher_redis,
        "BEAT_SCHEDULE_FILE": str(tmp_path / "beat" / "celerybeat-schedule"),
    }
    with launched(env, tmp_path / "full.log") as launcher:
        # when `make run` starts
        launcher.wait_until_running(timeout=180)

        # then it runs in full mode with everything ready
        first_line = launcher.output.splitlines()[0]
        assert first_line.startswith("Mode: FULL"), first_line
        assert launcher.get("/api/docs/")[0] == 200
        status, body = launcher.get("/readyz")
        assert status == 200, body
        assert json.loads(body) == {"status": "ok", "database": "ok", "redis": "ok"}

        # and every demo login it printed works, the sub-accounts included
        for login, password in DEMO_LOGINS:
            assert password == DEMO_PASSWORD
            assert f"{login:<16} {password}" in launcher.output
            account = _token_login(launcher, login)["account"]
            assert account["username"] == login  # type: ignore[index]
        assert _token_login(launcher, "demo:xiaowang")["account"]["kind"] == "sub"  # type: ignore[index]

        # and uvicorn, a Celery worker and Celery beat run as its children
        children = launcher.children()
        commands = " | ".join(children.values())
        assert "uvicorn config.asgi:application" in commands, commands
        assert "celery -A config worker" in commands, commands
        assert "celery -A config beat" in commands, commands

        # and the worker answers on that broker
        def worker_pongs() -> bool:
            ping = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "-t", "3"],
                cwd=BASE_DIR,
                env={**os.environ, "REDIS_URL": launcher_redis, "DATABASE_URL": fresh_database},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            return "pong" in ping.stdout

        wait_for("the Celery worker to answer a ping", worker_pongs, 60, launcher.log)
        # and beat's periodic task reached the worker and ran there
        wait_for(
            "beat's presence_expire to run on the worker",
            lambda: "routing.presence_expire" in launcher.output and "succeeded" in launcher.output,
            60,
            launcher.log,
        )
        assert (tmp_path / "beat").is_dir()

        # given a buyer chatting with the main account, its socket having read its stream
        chat = _buyer_chat(launcher)
        seen = asyncio.run(_read_stream(launcher, chat["buyer_token"], after=None))

        # when the worker and then the web server are killed (kill -9: a crash)
        for name, marker in (("worker", "celery -A config worker"), ("web", "uvicorn")):
            victim = next(
                pid
                for pid, cmd in launcher.children().items()
                if marker in cmd and os.getppid() != pid and _parent(pid) == launcher.pid
            )
            os.kill(victim, signal.SIGKILL)
            # then the launcher says so and starts it again (issue 12, self-healing run)
            wait_for(
                f"the launcher to restart the {name}",
                lambda name=name: f"Restarting {name}." in launcher.output,  # type: ignore[misc]
                30,
                launcher.log,
            )
            assert f"{name} exited with -9" in launcher.output
        # and the product serves again, with a worker that answers
        wait_for("the web server to answer again", lambda: _answers(launcher), 60, launcher.log)
        wait_for("the new Celery worker to answer a ping", worker_pongs, 60, launcher.log)
        # and the buyer, whose socket died with the server, misses nothing: what the agent wrote
        # meanwhile comes on resuming with ?after=, once, in order
        for n in range(3):
            _call(
                launcher,
                "POST",
                f"/api/v1/conversations/{chat['conversation']}/messages/",
                {"body": f"while you were away {n}"},
                chat["staff"],
            )
        resumed = asyncio.run(_read_stream(launcher, chat["buyer_token"], after=seen[-1]))
        bodies = [f["data"]["body"] for f in resumed if f["type"] == "message.created"]
        assert bodies == [f"while you were away {n}" for n in range(3)], resumed
        seqs = [f["stream_seq"] for f in resumed]
        assert seqs == list(
            range(seen[-1]["stream_seq"] + 1, seen[-1]["stream_seq"] + 1 + len(seqs))
        )
        assert launcher.process.poll() is None
        children = launcher.children()

        # when the launcher alone gets SIGINT (as from `kill -INT`)
        code = launcher.stop(signal.SIGINT, whole_group=False, timeout=40)

        # then it stops web, worker and beat (and the worker's pool) before it exits
        assert code == 0, launcher.output[-3000:]
        wait_for("every child to exit", lambda: not alive(list(children)), 10, launcher.log)
        assert not group_processes(launcher.pid)
