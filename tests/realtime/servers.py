"""Real ASGI servers for end-to-end tests: uvicorn subprocesses on loopback, on a PostgreSQL
database and a Redis database of their own (never the test run's, never `make run`'s).

Each server runs in its own session (its process group is ours to kill), writes to a log file
(a pipe could fill up and block it), and is killed with everything it started when the test ends.
Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql

from tests.ops.launcher import BASE_DIR, free_port, wait_for

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    auth: str | None = None,
    timeout: float = 15,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    try:
        with _opener.open(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError):
        return 0, None  # not listening (yet)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _admin(base: str) -> dict[str, Any]:
    url = urlsplit(base)
    return {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password,
        "dbname": "postgres",
        "autocommit": True,
        "connect_timeout": 5,
    }


@contextmanager
def server_database() -> Iterator[str]:
    """A fresh, migrated database next to the test run's (named after it); dropped afterwards."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop_helpdesk")
    own = urlsplit(base).path.strip("/") or "shop_helpdesk"
    name = f"{own}_srv_{uuid.uuid4().hex[:8]}"
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    with psycopg.connect(**_admin(base)) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=BASE_DIR,
            env={**clean_env(), "DATABASE_URL": url},
            check=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        yield url
    finally:
        with psycopg.connect(**_admin(base)) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def with_query(database_url: str, **query: str) -> str:
    """``database_url`` with libpq parameters added (django-environ passes them to psycopg),
    e.g. ``application_name``, by which ``pg_stat_activity`` tells a server's connections."""
    parts = urlsplit(database_url)
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def seed_shop(database_url: str, redis_url: str, **spec: Any) -> dict[str, Any]:
    """A shop made by ``tests.realtime.seed`` on a server's database (see there)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.realtime.seed", json.dumps(spec)],
        cwd=BASE_DIR,
        env={**clean_env(), "DATABASE_URL": database_url, "REDIS_URL": redis_url},
        check=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@contextmanager
def server_redis() -> Iterator[str]:
    """The Redis database after the test run's (10 -> 11), emptied before and after."""
    base = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"))
    own = int(base.path.strip("/") or 0)
    url = urlunsplit(base._replace(path=f"/{(own + 1) % 16}"))
    client = redis.Redis.from_url(url, socket_timeout=5)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("HELPDESK_EMBEDDED", "DJANGO_ENV", "PORT", "HOST", "DJANGO_ALLOW_ASYNC_UNSAFE")
        and not k.startswith("PYTEST_")
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: Any = None, auth: str | None = None) -> Any:
        status, data = http(method, self.base + path, body, auth)
        assert 200 <= status < 300, (method, path, status, data)
        return data


@contextmanager
def uvicorn_server(
    database_url: str,
    redis_url: str,
    log: Path,
    env: dict[str, str] | None = None,
    ready: str = "/readyz",
) -> Iterator[Server]:
    """``uvicorn config.asgi:application`` on a free loopback port, up once ``ready`` answers
    200 (``env``: more environment for the server, e.g. a setting under test; ``ready``
    "/healthz" for a server whose Redis is meant to be down)."""
    port = free_port()
    env = {
        **clean_env(),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
        # a crash of the server (a fatal signal) leaves its threads' stacks in the log
        "PYTHONFAULTHANDLER": "1",
        "THROTTLE_SIGNUP": "1000/hour",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process=process, port=port, log=log)
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"uvicorn exited:\n{log.read_text(errors='replace')[-3000:]}")
            return http("GET", server.base + ready, timeout=2)[0] == 200

        wait_for(f"uvicorn on port {port}", up, 60, log)
        yield server
    finally:
        if process.poll() is not None:  # died under the test: say how (shown with a failure)
            print(f"uvicorn had exited with code {process.returncode}", file=sys.stderr)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
