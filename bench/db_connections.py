"""PostgreSQL connections held by one server process with many open sockets, idle and then
chatting (issue 8, item 7c; DESIGN, connections: a bounded pool per process, sockets hold no
connection while idle).

    python -m bench.db_connections [--buyers 500] [--agents 20] [--idle-seconds 30]
                                   [--chat-seconds 30] [--chat-every 20] [--drain-seconds 120]
                                   [--quick] [--keep]

A scratch database (``<DATABASE_URL's name>_srv_conns``) and Redis database (``--redis-db``, 7)
serve one ``uvicorn config.asgi:application`` process whose connections carry the
application_name ``helpdesk-bench-server`` (set through ``DATABASE_URL``). Through the REST API:
a shop with ``--agents`` agents online and ``--buyers`` buyers who asked for a human (32 requests
in flight: the first phase measured). Then every agent and every buyer opens its socket; the
sockets stay idle but for their heartbeats (``--idle-seconds``), then chat (``--chat-seconds``:
each buyer writes every ``--chat-every`` seconds on average, each agent answers each buyer
message over its own socket), then until every answer arrived (``--drain-seconds`` at most).
``pg_stat_activity`` of the server's database is sampled every
0.1 s throughout (the benchmark itself holds no connection to that database meanwhile).

Printed per phase: the most connections held at once (and the most of them active), the longest
answer to ``GET /healthz`` (asked every second: is the server still responsive), beside the
configured pool size: the product's own setting as the server reads it (``HELPDESK_DB_POOL_MAX``,
or its default), or "no pool configured".
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench._common import (
    SERVER_APP_NAME,
    Api,
    Buyer,
    Socket,
    base_database_url,
    connect_kwargs,
    database_url,
    gather_limited,
    make_shop,
    quick_flag,
    scratch_database,
    scratch_redis,
    step,
    uvicorn_server,
    widget_sessions,
    work_dir,
)

MAX_PER_AGENT = 50


def _args(argv: list[str]) -> argparse.Namespace:
    quick = quick_flag(argv)
    parser = argparse.ArgumentParser(prog="python -m bench.db_connections", description=__doc__)
    parser.add_argument("--buyers", type=int, default=60 if quick else 500)
    parser.add_argument("--agents", type=int, default=4 if quick else 20)
    parser.add_argument("--idle-seconds", type=float, default=10 if quick else 30)
    parser.add_argument("--chat-seconds", type=float, default=10 if quick else 30)
    parser.add_argument(
        "--chat-every", type=float, default=20, help="mean seconds between a buyer's messages"
    )
    parser.add_argument("--drain-seconds", type=float, default=10 if quick else 120)
    parser.add_argument("--concurrency", type=int, default=32, help="setup requests in flight")
    parser.add_argument("--redis-db", type=int, default=7, help="the server's Redis database")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args, _unknown = parser.parse_known_args(argv)  # BENCH_ARGS go to every benchmark
    if args.buyers > args.agents * MAX_PER_AGENT:
        parser.error(f"--buyers needs at least {math.ceil(args.buyers / MAX_PER_AGENT)} agents")
    return args


async def _probe(base: str, sampler: Sampler) -> None:
    """``GET /healthz`` every second: how long the server takes to answer anything, per phase
    (a timeout of 30 s counts as 30 s)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as client:
        while True:
            phase = sampler.phase
            started = time.perf_counter()
            with suppress(httpx.HTTPError):
                await client.get("/healthz")
            sampler.probes.setdefault(phase, []).append(time.perf_counter() - started)
            await asyncio.sleep(1)


@dataclass
class Sampler:
    """``pg_stat_activity`` of one database every ``every`` seconds, from the ``postgres``
    database (so the sampler is not counted), recorded per phase."""

    database: str
    every: float = 0.1
    phase: str = "start"
    samples: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    probes: dict[str, list[float]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.order.append(phase)
        step(f"phase: {phase}")

    async def run(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            **connect_kwargs(base_database_url(), "postgres"), autocommit=True
        )
        query = (
            "SELECT count(*), count(*) FILTER (WHERE state <> 'idle'), "
            "count(*) FILTER (WHERE application_name = %s) "
            "FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
        )
        try:
            while True:
                row = await (await conn.execute(query, [SERVER_APP_NAME, self.database])).fetchone()
                assert row is not None
                self.samples.setdefault(self.phase, []).append((row[0], row[1], row[2]))
                await asyncio.sleep(self.every)
        finally:
            await conn.close()


async def _pinging(socket: Socket, every: float) -> None:
    """A client's heartbeat, started at a random offset (clients connect at different times)."""
    await asyncio.sleep(random.uniform(0, every))  # noqa: S311 (spreading, not security)
    while await socket.send_quietly({"type": "ping"}):
        await asyncio.sleep(every)


async def _run(base: str, ws: str, database: str, name: str, args: argparse.Namespace) -> Any:
    api = Api(base, limit=args.concurrency)
    sampler = Sampler(name)
    sampling: asyncio.Future[None] | None = None
    sockets: list[Socket] = []
    tasks: list[asyncio.Future[Any]] = []
    counts = dict.fromkeys(
        ("buyer_sent", "agent_received", "agent_sent", "buyer_received", "send_failed"), 0
    )
    try:
        per_agent = math.ceil(args.buyers / args.agents)
        step(f"setup: a shop with {args.agents} agents online (max {per_agent} each)")
        shop = await make_shop(
            api, database, slug="bench-conns", agents=args.agents, max_concurrent=per_agent
        )
        step(f"setup: {args.buyers} signed widget sessions")
        buyers = await widget_sessions(
            api, shop, [f"buyer-{i}" for i in range(args.buyers)], args.concurrency
        )
        sampling = asyncio.ensure_future(sampler.run())
        tasks.append(asyncio.ensure_future(_probe(base, sampler)))
        sampler.enter(f"HTTP: {args.buyers} buyers ask for a human, {args.concurrency} in flight")

        async def ask(buyer: Buyer) -> None:
            buyer.conversation = await api.ok(
                "POST", "/api/v1/widget/conversation/", {"human": True}, buyer.auth
            )

        await gather_limited(args.concurrency, [lambda b=b: ask(b) for b in buyers])
        await api.close()
        sampler.enter(f"opening {args.agents} agent and {args.buyers} buyer sockets")
        agent_sockets = await gather_limited(
            args.concurrency,
            [lambda a=a: Socket.open(f"{ws}/ws/agent/?token={a.token}", base) for a in shop.agents],
        )
        buyer_sockets = await gather_limited(
            args.concurrency,
            [lambda b=b: Socket.open(f"{ws}/ws/widget/?token={b.token}", base) for b in buyers],
        )
        sockets = [*agent_sockets, *buyer_sockets]
        for s in sockets:
            tasks.append(asyncio.ensure_future(_pinging(s, s.hello["data"]["ping_seconds"] * 0.7)))

        for agent_socket in agent_sockets:

            async def answer(frame: dict[str, Any], s: Socket = agent_socket) -> None:
                data = frame.get("data") or {}
                if frame["type"] != "message.created":
                    return
                if data.get("sender") == "buyer":
                    counts["agent_received"] += 1
                    counts["agent_sent"] += 1
                    await s.send_quietly(
                        {
                            "type": "message.send",
                            "conversation": data["conversation"],
                            "body": f"re: {data['body']}",
                            "client_id": f"re-{data['id']}",
                        }
                    )

            agent_socket.on_frame = answer

        for buyer_socket in buyer_sockets:

            async def seen(frame: dict[str, Any]) -> None:
                if frame["type"] == "message.created" and frame["data"].get("sender") == "agent":
                    counts["buyer_received"] += 1

            buyer_socket.on_frame = seen

        sampler.enter(f"{len(sockets)} sockets idle (heartbeats only), {args.idle_seconds:.0f} s")
        await asyncio.sleep(args.idle_seconds)

        sampler.enter(
            f"{len(sockets)} sockets chatting (a buyer message every {args.chat_every:.0f} s "
            f"per buyer, each answered), {args.chat_seconds:.0f} s"
        )
        deadline = time.monotonic() + args.chat_seconds

        async def chat(n: int, s: Socket) -> None:
            await asyncio.sleep(random.uniform(0, args.chat_every))  # noqa: S311
            i = 0
            while time.monotonic() < deadline:
                i += 1
                body = f"buyer {n} says {i}"
                try:
                    await s.send({"type": "message.send", "body": body, "client_id": f"b{n}-{i}"})
                except Exception:
                    counts["send_failed"] += 1
                    return
                counts["buyer_sent"] += 1
                pause = random.expovariate(1 / args.chat_every)
                await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))

        await asyncio.gather(*(chat(n, s) for n, s in enumerate(buyer_sockets)))
        sampler.enter(f"draining: until every answer arrived, {args.drain_seconds:.0f} s at most")
        started = time.monotonic()
        while time.monotonic() - started < args.drain_seconds:
            if counts["buyer_received"] >= counts["buyer_sent"]:
                break
            await asyncio.sleep(0.5)
        counts["drain_seconds"] = round(time.monotonic() - started)
        errors = [e for s in sockets for e in s.errors]
        closed: dict[str, int] = {}
        for s in sockets:
            if s.closed_by is not None:
                kind = "agent" if s in agent_sockets else "buyer"
                key = f"{kind} socket, closed by {s.closed_by}"
                closed[key] = closed.get(key, 0) + 1
        return sampler, counts, errors, closed, len(sockets)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*(s.close() for s in sockets))
        if sampling is not None:
            sampling.cancel()
            with suppress(asyncio.CancelledError):
                await sampling
        await api.close()


def _pool_size() -> str:
    """The server's pool size, read from the product's settings with this environment (which
    the server inherits), so that a default is reported as it is."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    return str(pool["max_size"]) if isinstance(pool, dict) else ""


def main(argv: list[str]) -> int:
    args = _args(argv)
    pool = _pool_size()
    with (
        work_dir(args.keep) as tmp,
        scratch_database("srv_conns", keep=args.keep) as database,
        scratch_redis(args.redis_db) as redis,
    ):
        name = database.rsplit("/", 1)[1]
        server_database = database_url(name, application_name=SERVER_APP_NAME)
        with uvicorn_server(server_database, redis, tmp / "server.log") as server:
            sampler, counts, errors, closed, opened = asyncio.run(
                _run(server.base, server.ws, database, name, args)
            )
        if args.keep:
            print(f"kept: database {database}, server log {tmp / 'server.log'}")

    configured = f"pool of {pool} connections" if pool else "no pool configured"
    print(
        f"\nPostgreSQL connections held by one server process ({configured}; "
        f"max_connections of the server: {_max_connections()}):"
    )
    print(f"  {'phase':<78} {'max held':>8} {'max busy':>8} {'mean':>6} {'/healthz':>9}")
    overall = 0
    tagged = 0
    for phase in sampler.order:
        rows = sampler.samples.get(phase, [])
        if not rows:
            continue
        held = max(r[0] for r in rows)
        busy = max(r[1] for r in rows)
        tagged = max(tagged, max(r[2] for r in rows))
        overall = max(overall, held)
        mean = sum(r[0] for r in rows) / len(rows)
        probes = sampler.probes.get(phase)
        probe = f"{max(probes) * 1000:>6.0f} ms" if probes else f"{'-':>9}"
        print(f"  {phase:<78} {held:>8} {busy:>8} {mean:>6.1f} {probe}")
    print(
        f"  max held overall: {overall}   configured pool size: "
        f"{pool if pool else 'no pool configured'}"
    )
    if tagged != overall:
        print(
            f"  (of which carried the application_name {SERVER_APP_NAME}: {tagged}; the "
            "others are counted by the database name alone)"
        )
    print(
        f"  chat: buyers sent {counts['buyer_sent']}, agents received {counts['agent_received']}"
        f" and answered {counts['agent_sent']}, buyers received {counts['buyer_received']} "
        f"(drained {counts['drain_seconds']} s after the chat ended); sends that failed "
        f"{counts['send_failed']}; socket errors {len(errors)} {errors[:3]}; sockets closed "
        f"meanwhile: {closed or 'none'} of {opened}"
    )
    return 0


def _max_connections() -> str:
    with psycopg.connect(**connect_kwargs(base_database_url(), "postgres")) as c:
        row = c.execute("SHOW max_connections").fetchone()
        return str(row[0]) if row else "?"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
