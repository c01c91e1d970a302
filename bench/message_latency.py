"""Buyer-to-agent message latency with many open conversations, over the real sockets, beside a
bare pipeline measured in the same run (issue 8, item 7b).

    python -m bench.message_latency [--open 1000] [--agents 20] [--senders 20]
                                    [--messages 300] [--warmup 20] [--profile out.txt]
                                    [--quick] [--keep]

A scratch database (``<DATABASE_URL's name>_srv_latency``) and Redis database (``--redis-db``, 7)
serve one ``uvicorn config.asgi:application`` process. Through the REST API: a shop with
``--agents`` agents online and ``--open`` buyers who asked for a human, so that ``--open``
conversations are active. Every agent has its socket open (``/ws/agent/``); ``--senders`` of the
buyers have theirs (``/ws/widget/``). Measured, one message at a time (round robin over the
senders, so that no socket nears its frame rate limit): from the buyer's ``message.send`` until
the holding agent's socket receives its ``message.created``.

Bare pipeline, same run: a minimal ``websockets`` server process (``bench._bare_ws``) that stores
each frame (INSERT + COMMIT on the same PostgreSQL), publishes it on Redis and forwards it from
its subscriber to a second client socket. Targets: product p50 <= 5x and p99 <= 10x the bare.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from psycopg import sql

from bench._common import (
    Api,
    Comparison,
    Socket,
    clean_env,
    db_counters,
    free_port,
    keep_pinging,
    make_shop,
    ms,
    percentile,
    print_comparisons,
    print_db_work,
    py_spy,
    quick_flag,
    scratch_database,
    scratch_redis,
    sql_exec,
    sql_rows,
    step,
    subprocess_in_session,
    uvicorn_server,
    wait_for,
    widget_sessions,
    work_dir,
)

MAX_PER_AGENT = 50  # API: max_concurrent is 1-50


def _args(argv: list[str]) -> argparse.Namespace:
    quick = quick_flag(argv)
    parser = argparse.ArgumentParser(prog="python -m bench.message_latency", description=__doc__)
    parser.add_argument("--open", type=int, default=100 if quick else 1000)
    parser.add_argument("--agents", type=int, default=4 if quick else 20)
    parser.add_argument("--senders", type=int, default=10 if quick else 20)
    parser.add_argument("--messages", type=int, default=60 if quick else 300)
    parser.add_argument("--warmup", type=int, default=10 if quick else 20)
    parser.add_argument("--concurrency", type=int, default=32, help="setup requests in flight")
    parser.add_argument("--redis-db", type=int, default=7, help="the servers' Redis database")
    parser.add_argument("--profile", type=Path, help="py-spy record the server while measuring")
    parser.add_argument(
        "--profile-idle", action="store_true", help="with --profile: waiting threads too"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args, _unknown = parser.parse_known_args(argv)  # BENCH_ARGS go to every benchmark
    if args.open > args.agents * MAX_PER_AGENT:
        parser.error(f"--open needs at least {math.ceil(args.open / MAX_PER_AGENT)} agents")
    args.senders = min(args.senders, args.open)
    return args


async def _timed_round_trips(
    send: Any, receiver_of: Any, count: int, warmup: int, senders: int
) -> tuple[list[float], int]:
    """``count + warmup`` messages one at a time; the latencies of the last ``count`` and how
    many never arrived (10 s each at most)."""
    latencies: list[float] = []
    lost = 0
    run = uuid.uuid4().hex[:8]
    for i in range(warmup + count):
        body = f"bench {run} message {i}"
        future = receiver_of(i % senders).expect(body)
        started = time.perf_counter()
        await send(i % senders, body, f"{run}-{i}")
        try:
            arrived = await asyncio.wait_for(future, 10)
        except TimeoutError:
            lost += 1
            continue
        if i >= warmup:
            latencies.append(arrived - started)
    return latencies, lost


async def _product(base: str, ws: str, database: str, args: argparse.Namespace, pid: int) -> Any:
    api = Api(base, limit=args.concurrency)
    sockets: list[Socket] = []
    pinger: asyncio.Future[None] | None = None
    try:
        per_agent = math.ceil(args.open / args.agents)
        step(f"setup: a shop with {args.agents} agents online (max {per_agent} each)")
        shop = await make_shop(
            api, database, slug="bench-latency", agents=args.agents, max_concurrent=per_agent
        )
        step(f"setup: {args.open} buyers with a widget session ask for a human")
        buyers = await widget_sessions(
            api, shop, [f"buyer-{i}" for i in range(args.open)], args.concurrency
        )
        semaphore = asyncio.Semaphore(args.concurrency)

        async def ask(buyer: Any) -> None:
            async with semaphore:
                buyer.conversation = await api.ok(
                    "POST", "/api/v1/widget/conversation/", {"human": True}, buyer.auth
                )

        await asyncio.gather(*(ask(b) for b in buyers))
        states = dict(
            sql_rows(database, "SELECT state, count(*) FROM conversations_conversation GROUP BY 1")
        )
        step(f"setup: conversations by state {states}; opening the sockets")
        agent_sockets = {
            a.id: await Socket.open(f"{ws}/ws/agent/?token={a.token}", base) for a in shop.agents
        }
        senders = buyers[: args.senders]
        buyer_sockets = [
            await Socket.open(f"{ws}/ws/widget/?token={b.token}", base) for b in senders
        ]
        sockets = [*agent_sockets.values(), *buyer_sockets]
        every = min(s.hello["data"]["ping_seconds"] for s in sockets) * 0.7
        pinger = asyncio.ensure_future(keep_pinging(sockets, every))

        async def send(n: int, body: str, client_id: str) -> None:
            await buyer_sockets[n].send(
                {"type": "message.send", "body": body, "client_id": client_id}
            )

        def receiver_of(n: int) -> Socket:
            return agent_sockets[senders[n].conversation["agent"]]

        step(f"measuring: {args.warmup} + {args.messages} messages, buyer socket -> agent socket")
        before = db_counters(database)
        with py_spy(pid, args.profile, idle=args.profile_idle):
            latencies, lost = await _timed_round_trips(
                send, receiver_of, args.messages, args.warmup, args.senders
            )
        after = db_counters(database)
        errors = [e for s in sockets for e in s.errors]
        return latencies, lost, states, errors, (before, after)
    finally:
        if pinger is not None:
            pinger.cancel()
        for s in sockets:
            await s.close()
        await api.close()


async def _bare(ws: str, args: argparse.Namespace) -> tuple[list[float], int]:
    sender = await _bare_socket(f"{ws}/send")
    receiver = await _bare_socket(f"{ws}/recv")
    try:

        async def send(n: int, body: str, client_id: str) -> None:
            await sender.send({"type": "message.send", "body": body, "client_id": client_id})

        return await _timed_round_trips(
            send, lambda n: receiver, args.messages, args.warmup, args.senders
        )
    finally:
        await sender.close()
        await receiver.close()


async def _bare_socket(url: str) -> Socket:
    from websockets.asyncio.client import connect

    ws = await connect(url, proxy=None, open_timeout=30)  # type: ignore[arg-type]
    return Socket(ws, {})


def main(argv: list[str]) -> int:
    args = _args(argv)
    with (
        work_dir(args.keep) as tmp,
        scratch_database("srv_latency", keep=args.keep) as database,
        scratch_redis(args.redis_db) as redis,
    ):
        with uvicorn_server(database, redis, tmp / "server.log") as server:
            latencies, lost, states, errors, db = asyncio.run(
                _product(server.base, server.ws, database, args, server.pid)
            )
        table = "bench_bare_messages"
        sql_exec(
            database,
            sql.SQL(
                "CREATE TABLE {} (id bigserial PRIMARY KEY, body text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(table)),
        )
        port = free_port()
        command = [sys.executable, "-m", "bench._bare_ws", "--port", str(port)]
        command += ["--database-url", database, "--redis-url", redis, "--table", table]
        with subprocess_in_session(command, clean_env(), tmp / "bare.log", port) as bare_server:
            log = tmp / "bare.log"
            wait_for(
                "the bare pipeline", lambda: "listening" in log.read_text(errors="replace"), 30, log
            )
            step(f"bare: {args.warmup} + {args.messages} messages through the bare pipeline")
            bare, bare_lost = asyncio.run(_bare(bare_server.ws, args))
        if args.keep:
            print(f"kept: database {database}, logs in {tmp}")

    print(
        f"\nProduct ({states.get('active', 0)} active conversations, {args.agents} agent "
        f"sockets, {args.senders} buyer sockets): {len(latencies)} messages, lost {lost}; "
        f"p50 {ms(statistics.median(latencies))}, p99 {ms(percentile(latencies, 99))}, "
        f"max {ms(max(latencies))}; socket errors {len(errors)} {errors[:3]}"
    )
    print_db_work(*db, per=args.messages + args.warmup, what="message")
    print(
        f"Bare (INSERT+COMMIT, Redis publish, websockets forward): {len(bare)} messages, lost "
        f"{bare_lost}; p50 {ms(statistics.median(bare))}, p99 {ms(percentile(bare, 99))}, "
        f"max {ms(max(bare))}"
    )
    print_comparisons(
        "Buyer -> agent message latency (issue 8, 7b):",
        [
            Comparison(
                "p50 latency",
                statistics.median(latencies) * 1000,
                statistics.median(bare) * 1000,
                "ms",
                "<= 5",
            ),
            Comparison(
                "p99 latency",
                percentile(latencies, 99) * 1000,
                percentile(bare, 99) * 1000,
                "ms",
                "<= 10",
            ),
        ],
    )
    return 0 if lost == 0 and bare_lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
