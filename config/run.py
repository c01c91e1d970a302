"""`make run`: the whole product in the foreground, stopped together by Ctrl-C.

Full mode (PostgreSQL and Redis reachable): migrate, load the demo shop, then run the ASGI server
(uvicorn), a Celery worker and Celery beat as child processes, each started again when it dies
(``Children``). Embedded mode (either one unreachable): the same product in one process, on
SQLite, the in-memory channel layer, Celery tasks run eagerly and the beat schedule run by an
in-process scheduler.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/shop_helpdesk"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _postgres_problem(url: str) -> str | None:
    """None when the server answers; else why not. The database itself may be missing."""
    import psycopg

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return f"DATABASE_URL is not PostgreSQL ({parts.scheme})"
    try:
        psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        where = f"{parts.hostname}:{parts.port or 5432}"
        return f"PostgreSQL at {where} is not reachable ({exc.__class__.__name__})"
    return None


def _redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or 6379}"
        return f"Redis at {where} is not reachable ({exc.__class__.__name__})"
    return None


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}.")


def choose_mode() -> tuple[bool, str]:
    """(embedded, the reason) from what answers at the configured URLs."""
    if os.environ.get("HELPDESK_EMBEDDED") in ("1", "true", "True"):
        return True, "HELPDESK_EMBEDDED is set"
    problems = [
        p
        for p in (
            _postgres_problem(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            _redis_problem(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)),
        )
        if p
    ]
    if problems:
        return True, "; ".join(problems)
    return False, "PostgreSQL and Redis are reachable"


def prepare() -> None:
    """Migrate and load the idempotent demo shop."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    if settings.EMBEDDED:  # SQLite does not create the folder of its file (var/ is not in git)
        Path(settings.DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo")


def banner(host: str, port: int) -> str:
    from apps.web.demo import DEMO_LOGINS

    base = f"http://{host}:{port}"
    lines = [
        "",
        "shop helpdesk is running.",
        f"  Agent workbench:   {base}/workbench/",
        f"  Shop admin:        {base}/admin/",
        f"  Buyer widget demo: {base}/demo/widget/",
        f"  API docs:          {base}/api/docs/",
        f"  Sign up a shop:    {base}/signup/",
        "  Demo logins (login name / password):",
        *(f"    {login:<16} {password}" for login, password in DEMO_LOGINS),
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _wait_until_up(url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def run_embedded(host: str, port: int) -> int:
    import threading

    import uvicorn

    # One process: /metrics needs no shared files, but a given directory must exist.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    prepare()
    from apps.core.scheduler import start_in_process_scheduler

    start_in_process_scheduler()

    def announce() -> None:
        if _wait_until_up(f"http://{host}:{port}/healthz"):
            print(banner(host, port), flush=True)

    threading.Thread(target=announce, daemon=True).start()
    uvicorn.run("config.asgi:application", host=host, port=port, log_level="info", lifespan="off")
    return 0


def run_full(host: str, port: int) -> int:
    ensure_database(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    prepare()
    # This process only supervises from here on: give back its pooled connections.
    from django.db import connections

    for conn in connections.all():
        conn.close()
        close_pool = getattr(conn, "close_pool", None)
        if close_pool is not None:
            close_pool()
    python = sys.executable
    # Beat's state file (a shelve): one per running beat, so a second checkout or a test can pass
    # its own with BEAT_SCHEDULE_FILE.
    schedule = Path(os.environ.get("BEAT_SCHEDULE_FILE", BASE_DIR / "var" / "celerybeat-schedule"))
    schedule.parent.mkdir(parents=True, exist_ok=True)
    commands = {
        "web": [
            python,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            host,
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "worker@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(schedule),
        ],
    }
    # /metrics across the children (apps.core.metrics): prometheus_client's multiprocess mode,
    # its files under var/ (emptied at each start: samples of a former run would add up).
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR", BASE_DIR / "var" / "prometheus"))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    children = Children(commands)

    def on_term(*_args: object) -> None:
        children.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    try:
        if _wait_until_up(f"http://{host}:{port}/healthz"):
            print(banner(host, port), flush=True)
        while True:
            failed = children.check()
            if failed is not None:
                print(failed, flush=True)
                children.stop()
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("Stopping…", flush=True)
        children.stop()
        return 0


def _forget_metrics_of(pid: int) -> None:
    """A dead child's live gauges (open sockets) stop counting in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Children:
    """The child processes of the full mode, restarted when one dies (issue 12, I7).

    A child that exits is started again after a backoff that doubles from ``FIRST_BACKOFF`` up
    to ``MAX_BACKOFF`` seconds, and the launcher says so. A child that ran ``STABLE_AFTER``
    seconds counts as healthy again (its backoff starts over). A child that keeps dying at once
    (``GIVE_UP_AFTER`` times in a row, each within ``STABLE_AFTER`` seconds of its start: a bad
    setting, a port in use) stops everything with a message, as does Ctrl-C or SIGTERM. A
    deployment restarts its containers itself (docker/compose.yaml, ``restart:``); this keeps
    `make run` up when a child crashes or is killed (``kill -9`` of the worker, say)."""

    FIRST_BACKOFF = 1.0
    MAX_BACKOFF = 30.0
    STABLE_AFTER = 30.0
    GIVE_UP_AFTER = 5

    def __init__(self, commands: dict[str, list[str]]) -> None:
        self._commands = commands
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._started: dict[str, float] = {}
        self._quick_deaths: dict[str, int] = dict.fromkeys(commands, 0)
        self._restart_at: dict[str, float] = {}
        for name in commands:
            self._start(name)

    def _start(self, name: str) -> None:
        self._processes[name] = subprocess.Popen(self._commands[name], cwd=BASE_DIR)  # noqa: S603
        self._started[name] = time.monotonic()

    def check(self) -> str | None:
        """Restart what died (after its backoff); a message when one should stop everything."""
        now = time.monotonic()
        for name, child in self._processes.items():
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    _forget_metrics_of(child.pid)
                    print(f"Restarting {name}.", flush=True)
                    self._start(name)
                continue
            if child.poll() is None:
                if now - self._started[name] >= self.STABLE_AFTER:
                    self._quick_deaths[name] = 0
                continue
            ran = now - self._started[name]
            quick = ran < self.STABLE_AFTER
            self._quick_deaths[name] = self._quick_deaths[name] + 1 if quick else 1
            if self._quick_deaths[name] >= self.GIVE_UP_AFTER:
                return (
                    f"{name} exited with {child.returncode} {self._quick_deaths[name]} times in a "
                    f"row, each within {self.STABLE_AFTER:.0f} s of its start; stopping everything."
                )
            backoff = min(
                self.MAX_BACKOFF, self.FIRST_BACKOFF * 2 ** (self._quick_deaths[name] - 1)
            )
            print(
                f"{name} exited with {child.returncode} after {ran:.0f} s; restarting it in "
                f"{backoff:.0f} s.",
                flush=True,
            )
            self._restart_at[name] = now + backoff
        return None

    def pids(self) -> dict[str, int]:
        return {name: child.pid for name, child in self._processes.items()}

    def stop(self) -> None:
        self._restart_at.clear()
        children = list(self._processes.values())
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


def main() -> int:
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    embedded, reason = choose_mode()
    if embedded:
        os.environ["HELPDESK_EMBEDDED"] = "1"
        print(
            f"Mode: EMBEDDED (single process, SQLite under var/, in-memory channel layer, "
            f"in-process tasks and scheduler) because {reason}.",
            flush=True,
        )
        return run_embedded(host, port)
    print(
        f"Mode: FULL (PostgreSQL, Redis, uvicorn + Celery worker + beat) because {reason}.",
        flush=True,
    )
    return run_full(host, port)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the servers started (migrate, demo data)
        print("Stopped.", flush=True)
        sys.exit(130)
