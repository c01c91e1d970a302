"""Shared pieces of the benchmarks that talk to a real server (not a benchmark itself: the
Makefile's bench loop skips ``bench/_*.py``).

- scratch PostgreSQL databases next to ``DATABASE_URL``'s (migrated by a ``manage.py migrate``
  subprocess, dropped WITH (FORCE) afterwards) and a scratch Redis database (flushed before and
  after);
- a real ``uvicorn config.asgi:application`` subprocess on a free loopback port, in a session of
  its own (its process group is ours to kill), logging to a file, ready once ``/readyz`` answers,
  killed at the end; every wait is bounded;
- setting a shop up through the public REST API (staff tokens are inserted by SQL: a login per
  agent would spend most of the setup hashing passwords);
- percentiles and the "product beside bare machine" report lines.

The server runs the product's default settings except what a load test from one loopback
address needs: the per-address throttles and the sub-account quota are raised (both operator
settings, README), and ``DEBUG`` is off as in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/shop_helpdesk"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "bench-passphrase-2026"
SERVER_APP_NAME = "helpdesk-bench-server"  # application_name of the server's connections

# Operator limits raised for a load test from one address (README, settings).
LOAD_TEST_ENV = {
    "DEBUG": "false",
    "THROTTLE_SIGNUP": "100000/hour",
    "THROTTLE_AUTH": "100000/min",
    "THROTTLE_WIDGET": "100000/min",
    "THROTTLE_BUYER_MESSAGES": "0",  # SPEC I6: a benchmark's buyers write as fast as it asks
    "HELPDESK_SUB_ACCOUNT_QUOTA": "1000",
}

_loopback = urllib.request.build_opener(urllib.request.ProxyHandler({}))
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Arguments and output


def quick_flag(argv: list[str]) -> bool:
    """``--quick`` (also through ``make bench BENCH_ARGS=--quick``): small sizes for a smoke run."""
    return "--quick" in argv


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Comparison:
    """One figure of the product beside the bare machine's, with the target on the ratio."""

    name: str
    product: float
    bare: float
    unit: str
    target: str  # e.g. ">= 0.15" or "<= 5"; "" for none

    @property
    def ratio(self) -> float:
        return self.product / self.bare if self.bare else math.nan

    @property
    def met(self) -> bool:
        if not self.target:
            return True
        op, value = self.target.split()
        if op == ">=":
            return self.ratio >= float(value)
        return self.ratio <= float(value)


def print_comparisons(title: str, rows: list[Comparison]) -> None:
    print(f"\n{title}")
    print(f"  {'figure':<28} {'product':>14} {'bare':>14} {'ratio':>8}  target")
    for r in rows:
        verdict = f"{r.target} ({'met' if r.met else 'NOT met'})" if r.target else "-"
        print(
            f"  {r.name:<28} {r.product:>10.1f} {r.unit:<3} {r.bare:>10.1f} {r.unit:<3} "
            f"{r.ratio:>8.2f}  {verdict}"
        )


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis


def base_database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def database_url(name: str, **query: str) -> str:
    """``DATABASE_URL`` with another database name (and query parameters, e.g. the
    application_name that django-environ passes on to psycopg)."""
    parts = urlsplit(base_database_url())
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return urlunsplit(parts._replace(path=f"/{name}", query=q))


def scratch_name(suffix: str) -> str:
    own = urlsplit(base_database_url()).path.strip("/") or "shop_helpdesk"
    return f"{own}_{suffix}"


def connect_kwargs(url: str, dbname: str | None = None) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
        "dbname": dbname or parts.path.strip("/"),
        "connect_timeout": 10,
    }


def _drop(name: str) -> None:
    with psycopg.connect(**connect_kwargs(base_database_url(), "postgres"), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_database(suffix: str, *, migrate: bool = True, keep: bool = False) -> Iterator[str]:
    """A fresh database ``<DATABASE_URL's name>_<suffix>``, migrated; dropped afterwards."""
    name = scratch_name(suffix)
    _drop(name)
    with psycopg.connect(**connect_kwargs(base_database_url(), "postgres"), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(name)
    try:
        if migrate:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0"],
                cwd=BASE_DIR,
                env={**clean_env(), "DATABASE_URL": url},
                check=True,
                timeout=300,
                stdin=subprocess.DEVNULL,
            )
        yield url
    finally:
        if not keep:
            _drop(name)


def redis_url(db: int) -> str:
    parts = urlsplit(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    return urlunsplit(parts._replace(path=f"/{db}"))


@contextmanager
def scratch_redis(db: int) -> Iterator[str]:
    import redis

    url = redis_url(db)
    client = redis.Redis.from_url(url, socket_timeout=10)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def sql_rows(url: str, query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(**connect_kwargs(url), autocommit=True) as c:
        return c.execute(query, list(params)).fetchall()  # type: ignore[arg-type]


def sql_exec(url: str, query: sql.Composable | str, params: Iterable[Any] = ()) -> None:
    with psycopg.connect(**connect_kwargs(url), autocommit=True) as c:
        c.execute(query, list(params))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Server subprocesses


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("HELPDESK_EMBEDDED", "DJANGO_ENV", "PORT", "HOST", "DJANGO_ALLOW_ASYNC_UNSAFE")
        and not k.startswith("PYTEST_")
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def http_status(url: str, timeout: float = 2) -> int:
    try:
        with _loopback.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


@dataclass
class Process:
    """A subprocess in its own session, logging to ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def subprocess_in_session(
    args: list[str], env: dict[str, str], log: Path, port: int
) -> Iterator[Process]:
    """Start ``args``; on the way out kill its whole process group (bounded wait)."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            args,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Process(process, port, log)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


@contextmanager
def uvicorn_server(
    database: str,
    redis: str,
    log: Path,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Process]:
    """``uvicorn config.asgi:application`` (``workers`` processes, the product's defaults plus
    ``LOAD_TEST_ENV``), up once ``/readyz`` answers 200 (60 s at most). ``BENCH_SERVER_PG_OPTIONS``
    in the environment goes to the server's connections as libpq ``options``;
    ``BENCH_SERVER_WORKERS=n`` overrides ``workers`` (with more than one, the pid is uvicorn's
    parent process and its workers are its children)."""
    port = free_port()
    options = os.environ.get("BENCH_SERVER_PG_OPTIONS")
    if options:  # e.g. "-c log_statement=all": count the server's statements in PostgreSQL's log
        database += ("&" if "?" in database else "?") + "options=" + quote(options)
    env = {
        **clean_env(),
        **LOAD_TEST_ENV,
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    args = [sys.executable, "-m", "uvicorn", "config.asgi:application"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    workers = int(os.environ.get("BENCH_SERVER_WORKERS") or workers)
    if workers > 1:
        args += ["--workers", str(workers)]
    with subprocess_in_session(args, env, log, port) as server:

        def ready() -> bool:
            if not server.alive():
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"uvicorn exited:\n{tail}")
            return http_status(server.base + "/readyz") == 200

        wait_for(f"uvicorn on port {port}", ready, 60, log)
        yield server


@contextmanager
def work_dir(keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def py_spy(
    pid: int, out: Path | None, seconds: float = 600, mode: str = "active"
) -> Iterator[None]:
    """``py-spy record`` of ``pid`` while the block runs (``out`` None: nothing). ``mode``:
    "active" (py-spy's default; note that it counts a thread waiting in psycopg as active),
    "idle" (every thread, wall-clock) or "gil" (only the thread holding the GIL: where Python
    spends the CPU). py-spy is an optional tool (``pip install py-spy``), not a dependency;
    without it this says so."""
    if out is None:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("py-spy is not installed (pip install py-spy): no profile taken")
        yield
        return
    fmt = "raw" if out.suffix == ".txt" else "speedscope" if out.suffix == ".json" else "flamegraph"
    args = [exe, "record", "--pid", str(pid), "--output", str(out), "--format", fmt]
    args += ["--duration", str(int(seconds)), "--rate", "200", "--subprocesses"]
    if mode == "idle":
        args.append("--idle")
    elif mode == "gil":
        args.append("--gil")
    log = out.with_suffix(".py-spy.log")
    with log.open("wb") as handle:
        spy = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)  # noqa: S603
    time.sleep(1.0)  # attached before the measured part starts
    try:
        yield
    finally:
        with suppress(ProcessLookupError):
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(timeout=10)
        print(f"py-spy profile of the server: {out}")


# ---------------------------------------------------------------------------------------------
# The REST API


class ApiError(RuntimeError):
    pass


@dataclass
class Api:
    """An asyncio client for one server; ``limit`` connections at most.

    aiohttp, not httpx: under the 32-way burst httpx spent about 3.5 ms of CPU per request on
    this machine's two cores, which the server under test then lacked; aiohttp spends a fraction
    of that (the burst prints the client's CPU per request)."""

    base: str
    limit: int = 32
    client: aiohttp.ClientSession = field(init=False)

    def __post_init__(self) -> None:
        self.client = aiohttp.ClientSession(
            base_url=self.base,
            timeout=aiohttp.ClientTimeout(total=60.0),
            connector=aiohttp.TCPConnector(limit=self.limit, force_close=False),
            trust_env=False,
        )

    async def call(
        self, method: str, path: str, body: Any = None, auth: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = auth
        try:
            return await self._request(method, path, body, headers)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            # uvicorn closes a keep-alive connection idle for 5 s; a request racing that close
            # fails before the server saw it: sent again once, on a fresh connection.
            return await self._request(method, path, body, headers)

    async def _request(
        self, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        async with self.client.request(method, path, json=body, headers=headers) as response:
            content = await response.read()
            try:
                data = json.loads(content) if content else None
            except ValueError:
                data = content.decode(errors="replace")
            return response.status, data

    async def ok(self, method: str, path: str, body: Any = None, auth: str | None = None) -> Any:
        status, data = await self.call(method, path, body, auth)
        if not 200 <= status < 300:
            raise ApiError(f"{method} {path}: {status} {str(data)[:300]}")
        return data

    async def close(self) -> None:
        await self.client.close()


async def gather_limited(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs with at most ``limit`` in flight; results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(run(j) for j in jobs))


def signature(secret: str, buyer_id: str) -> str:
    """API.md: hex HMAC-SHA256 of the UTF-8 buyer id, keyed with the UTF-8 widget secret."""
    return hmac.new(secret.encode(), buyer_id.encode(), hashlib.sha256).hexdigest()


@dataclass
class Agent:
    id: int
    name: str
    token: str

    @property
    def auth(self) -> str:
        return f"Token {self.token}"


@dataclass
class Buyer:
    external_id: str
    token: str
    conversation: dict[str, Any] | None = None

    @property
    def auth(self) -> str:
        return f"Buyer {self.token}"


@dataclass
class Shop:
    slug: str
    main_token: str
    widget_secret: str
    agents: list[Agent]

    @property
    def main_auth(self) -> str:
        return f"Token {self.main_token}"


async def make_shop(
    api: Api, database: str, *, slug: str, agents: int, max_concurrent: int, online: bool = True
) -> Shop:
    """A shop (signup through the API) whose main account takes no buyers, with ``agents``
    sub-accounts (``chat`` permission, ``max_concurrent`` each), online through
    ``POST /api/v1/me/status/`` when ``online``. The agents' API tokens are inserted by SQL."""
    signup = await api.ok(
        "POST", "/api/v1/shops/", {"slug": slug, "name": slug, "password": PASSWORD}
    )
    main = f"Token {signup['token']}"
    await api.ok(
        "PATCH", f"/api/v1/accounts/{signup['account']['id']}/", {"routing_enabled": False}, main
    )
    secret = (await api.ok("GET", "/api/v1/settings/", auth=main))["widget_secret"]

    async def create(i: int) -> dict[str, Any]:
        body = {
            "name": f"agent{i}",
            "password": PASSWORD,
            "permissions": ["chat"],
            "max_concurrent": max_concurrent,
        }
        data: dict[str, Any] = await api.ok("POST", "/api/v1/accounts/", body, main)
        return data

    created = await gather_limited(4, [lambda i=i: create(i) for i in range(agents)])
    tokens = {a["id"]: secrets.token_hex(20) for a in created}
    with psycopg.connect(**connect_kwargs(database), autocommit=True) as c, c.cursor() as cur:
        cur.executemany(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now(), %s)",
            [(key, account_id) for account_id, key in tokens.items()],
        )
    shop_agents = [Agent(a["id"], a["name"], tokens[a["id"]]) for a in created]
    if online:
        await gather_limited(
            8,
            [
                lambda a=a: api.ok("POST", "/api/v1/me/status/", {"status": "online"}, a.auth)
                for a in shop_agents
            ],
        )
    return Shop(slug, signup["token"], secret, shop_agents)


async def widget_sessions(api: Api, shop: Shop, ids: list[str], limit: int = 32) -> list[Buyer]:
    """A signed widget session per buyer id (``POST /api/v1/widget/session/``)."""

    async def session(buyer_id: str) -> Buyer:
        body = {
            "shop": shop.slug,
            "buyer_id": buyer_id,
            "signature": signature(shop.widget_secret, buyer_id),
            "entrance": "product",
            "name": buyer_id,
        }
        data = await api.ok("POST", "/api/v1/widget/session/", body)
        return Buyer(buyer_id, data["token"])

    return await gather_limited(limit, [lambda b=b: session(b) for b in ids])


def decode(frame: str | bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame)
    return data


# ---------------------------------------------------------------------------------------------
# The bare machine: a locked claim loop


@dataclass
class ClaimResult:
    claims: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.claims / self.seconds


async def bare_claims(url: str, *, connections: int, claims: int, agents: int) -> ClaimResult:
    """What one routing decision needs at the least, on the same PostgreSQL: per claim, a
    transaction with ``pg_advisory_xact_lock(shop)``, ``SELECT ... FOR UPDATE`` of the least
    loaded agent below its max, ``UPDATE ... SET open = open + 1`` and ``COMMIT``, from
    ``connections`` asyncio connections at once (psycopg 3). On a scratch table of its own
    (created and dropped here), whose maxima are high enough that no claim finds everyone full."""
    table = f"bench_bare_agents_{os.getpid()}"
    setup = await psycopg.AsyncConnection.connect(**connect_kwargs(url), autocommit=True)
    await setup.execute(
        sql.SQL(
            "CREATE TABLE {} (id int PRIMARY KEY, shop int NOT NULL, open int NOT NULL DEFAULT 0,"
            " max int NOT NULL)"
        ).format(sql.Identifier(table))
    )
    await setup.execute(
        sql.SQL(
            "INSERT INTO {} (id, shop, max) SELECT g, 1, %s FROM generate_series(1, %s) g"
        ).format(sql.Identifier(table)),
        [claims + 1, agents],
    )
    await setup.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    pick = sql.SQL(
        "SELECT id FROM {} WHERE shop = %s AND open < max ORDER BY open, id LIMIT 1 FOR UPDATE"
    ).format(sql.Identifier(table))
    bump = sql.SQL("UPDATE {} SET open = open + 1 WHERE id = %s").format(sql.Identifier(table))
    pool = [
        await psycopg.AsyncConnection.connect(**connect_kwargs(url)) for _ in range(connections)
    ]
    left = claims
    latencies: list[float] = []

    async def worker(conn: psycopg.AsyncConnection[Any]) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x6265, 1])
            row = await (await conn.execute(pick, [1])).fetchone()
            assert row is not None
            await conn.execute(bump, [row[0]])
            await conn.commit()
            latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in pool))
        seconds = time.perf_counter() - started
        total = await (
            await setup.execute(sql.SQL("SELECT sum(open) FROM {}").format(sql.Identifier(table)))
        ).fetchone()
        assert total is not None and total[0] == claims, (total, claims)
    finally:
        for c in pool:
            await c.close()
        await setup.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        await setup.close()
    return ClaimResult(claims, seconds, latencies)


# ---------------------------------------------------------------------------------------------
# Sockets


class Socket:
    """A client socket with a reader task: ``message.created`` frames resolve the futures waiting
    for their body (``expect``); ``on_frame`` sees every frame; the rest is read and dropped."""

    def __init__(self, ws: Any, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.on_frame: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.frames = 0
        self.errors: list[dict[str, Any]] = []
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url: str, origin: str) -> Socket:
        from websockets.asyncio.client import connect

        # No protocol-level keepalive: the application's pings are the heartbeat, and a loaded
        # server answering late must not make the client drop the socket.
        ws = await connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            proxy=None,
            open_timeout=60,
            max_queue=None,
            ping_interval=None,
        )
        async with asyncio.timeout(60):
            while True:
                hello = decode(await ws.recv())
                if hello["type"] == "hello":
                    return cls(ws, hello)

    def expect(self, body: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[body] = future
        return future

    async def _read(self) -> None:
        with suppress(Exception):
            async for raw in self.ws:
                now = time.perf_counter()
                frame = decode(raw)
                self.frames += 1
                if frame["type"] == "message.created":
                    future = self.waiting.pop(frame["data"].get("body", ""), None)
                    if future is not None and not future.done():
                        future.set_result(now)
                elif frame["type"] == "error":
                    self.errors.append(frame["data"])
                if self.on_frame is not None:
                    await self.on_frame(frame)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    @property
    def closed_by(self) -> str | None:
        """Once the socket is closed: who closed it, with the code and reason (None while open)."""
        if not self.reader.done():
            return None
        protocol = self.ws.protocol
        received, sent = protocol.close_rcvd, protocol.close_sent
        if received is not None and protocol.close_rcvd_then_sent is not False:
            return f"server {received.code} {received.reason}".strip()
        if sent is not None:
            return f"client {sent.code} {sent.reason}".strip()
        return "dropped (no close frame)"

    async def send_quietly(self, frame: dict[str, Any]) -> bool:
        """Send; False when the socket is gone."""
        try:
            await self.send(frame)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        self.reader.cancel()
        with suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)


async def keep_pinging(sockets: list[Socket], every: float) -> None:
    """Heartbeats, as a client must send them (``ping_seconds`` in ``hello``)."""
    while True:
        await asyncio.sleep(every)
        for s in list(sockets):
            await s.send_quietly({"type": "ping"})


# ---------------------------------------------------------------------------------------------
# Counting what the database did (pg_stat_database, pg_stat_user_tables)


@dataclass
class DbCounters:
    """Cumulative counters of one database, read from PostgreSQL's statistics views."""

    sessions: int
    transactions: int
    scans: dict[str, int]
    inserted: int
    updated: int
    deleted: int


def db_counters(url: str) -> DbCounters:
    """The counters now (after a pause: backends report their statistics within a second)."""
    time.sleep(1.5)
    with psycopg.connect(**connect_kwargs(url), autocommit=True) as c:
        c.execute("SELECT pg_stat_clear_snapshot()")
        row = c.execute(
            "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
        tables = c.execute(
            "SELECT relname, seq_scan + coalesce(idx_scan, 0), n_tup_ins, n_tup_upd, n_tup_del "
            "FROM pg_stat_user_tables"
        ).fetchall()
    assert row is not None
    return DbCounters(
        sessions=int(row[0]),
        transactions=int(row[1]),
        scans={t[0]: int(t[1]) for t in tables},
        inserted=sum(int(t[2]) for t in tables),
        updated=sum(int(t[3]) for t in tables),
        deleted=sum(int(t[4]) for t in tables),
    )


def print_db_work(before: DbCounters, after: DbCounters, per: int, what: str) -> None:
    """What the database did per ``what`` between two readings (each reading opens one session
    and runs a few transactions of its own: subtracted)."""
    scans = {t: after.scans.get(t, 0) - before.scans.get(t, 0) for t in after.scans}
    top = sorted(((n, t) for t, n in scans.items() if n > 0), reverse=True)[:6]
    total = sum(scans.values())
    print(
        f"  database work per {what} (pg_stat_*): "
        f"{(after.sessions - before.sessions - 1) / per:.1f} connections opened, "
        f"{(after.transactions - before.transactions - 3) / per:.1f} transactions, "
        f"{total / per:.1f} table scans ("
        + ", ".join(f"{t.split('_', 1)[-1]} {n / per:.1f}" for n, t in top)
        + f"), rows inserted {(after.inserted - before.inserted) / per:.1f}, "
        f"updated {(after.updated - before.updated) / per:.1f}, "
        f"deleted {(after.deleted - before.deleted) / per:.1f}"
    )


# ---------------------------------------------------------------------------------------------
# Where the machine's CPU goes (Linux /proc): the server, PostgreSQL, this benchmark's own client

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuReading:
    at: float
    busy: dict[str, float]  # seconds of CPU so far, by kind of process
    machine: float  # seconds of CPU of the whole machine so far, idle excluded


def _process_kind(pid: int, parent: int, server_pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
    except OSError:
        return None
    if pid == os.getpid():
        return "benchmark client"
    if pid == server_pid or parent == server_pid:  # uvicorn, or its workers
        return "server"
    if b"postgres" in command:
        return "PostgreSQL"
    if b"redis-server" in command:
        return "Redis"
    return "other"


def cpu_reading(server_pid: int) -> CpuReading:
    """CPU seconds used so far by the server process (and its workers), PostgreSQL's processes,
    Redis, this process and the rest; None of it on a system without /proc."""
    busy: dict[str, float] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = _process_kind(int(entry), int(fields[1]), server_pid)
        if kind is None:
            continue
        busy[kind] = busy.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / _TICKS
    machine = 0.0
    if os.path.exists("/proc/stat"):
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:8]]
        machine = (sum(values) - values[3] - values[4]) / _TICKS  # minus idle and iowait
    return CpuReading(time.perf_counter(), busy, machine)


def print_cpu(before: CpuReading, after: CpuReading, per: int, what: str) -> None:
    """CPU milliseconds per ``what`` by kind of process, and how busy the machine's cores were:
    on a shared machine the benchmark's own client and PostgreSQL take cores from the server."""
    if not after.busy:
        return
    seconds = after.at - before.at
    used = {k: after.busy.get(k, 0.0) - before.busy.get(k, 0.0) for k in after.busy}
    parts = ", ".join(
        f"{k} {1000 * v / per:.1f} ms"
        for k, v in sorted(used.items(), key=lambda kv: -kv[1])
        if v > 0
    )
    cores = (after.machine - before.machine) / seconds if seconds > 0 else 0.0
    print(
        f"  CPU per {what} (/proc): {parts}; the machine's {os.cpu_count()} cores "
        f"{100 * cores / (os.cpu_count() or 1):.0f} % busy"
    )
