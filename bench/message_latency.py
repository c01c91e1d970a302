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
the holding agent's socket receives its ``message.created``; each one followed by one message
through the bare pipeline, so that both see the same moment of a noisy machine.

Bare pipeline, same run: a minimal ``websockets`` server process (``bench._bare_ws``) that stores
each frame (INSERT + COMMIT on the same PostgreSQL, in a scratch database of its own), publishes
it on Redis and forwards it from its subscriber to a second client socket. Targets: product p50
<= 5x and p99 <= 10x the bare.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
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
        "--profile-mode",
        choices=["active", "idle", "gil"],
        default="active",
        help="py-spy: threads it sees running (default), all threads, or the GIL holder only",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args, _unknown = parser.parse_known_args(argv)  # BENCH_ARGS go to every benchmark
    if args.open > args.agents * MAX_PER_AGENT:
        parser.error(f"--open needs at least {math.ceil(args.open / MAX_PER_AGENT)} agents")
    args.senders = min(args.senders, args.open)
    return args


async def _round_trip(send: Any, receiver: Socket, body: str, client_id: str) -> float | None:
    """Seconds from sending ``body`` until ``receiver`` has it; None after 10 s."""
    future = receiver.expect(body)
    started = time.perf_counter()
    await send(body, client_id)
    try:
        return await asyncio.wait_for(future, 10) - started
    except TimeoutError:
        return None


@dataclass
class Latencies:
    product: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    product_lost: int = 0
    bare_lost: int = 0


async def _measure(
    base: str, ws: str, bare_ws: str, database: str, args: argparse.Namespace, pid: int
) -> Any:
    api = Api(base, limit=args.concurrency)
    sockets: list[Socket] = []
    closing: list[Socket] = []
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

        def receiver_of(n: int) -> Socket:
            return agent_sockets[senders[n].conversation["agent"]]

        bare_sender = await _bare_socket(f"{bare_ws}/send")
        bare_receiver = await _bare_socket(f"{bare_ws}/recv")
        closing.extend([bare_sender, bare_receiver])  # not pinged: the bare server has no pings

        async def send_bare(body: str, client_id: str) -> None:
            await bare_sender.send({"type": "message.send", "body": body, "client_id": client_id})

        step(
            f"measuring: {args.warmup} + {args.messages} messages buyer socket -> agent socket, "
            "each followed by one through the bare pipeline"
        )
        result = Latencies()
        run = uuid.uuid4().hex[:8]
        before = await asyncio.to_thread(db_counters, database)
        with py_spy(pid, args.profile, mode=args.profile_mode):
            for i in range(args.warmup + args.messages):
                n = i % args.senders

                async def send(body: str, client_id: str, n: int = n) -> None:
                    await buyer_sockets[n].send(
                        {"type": "message.send", "body": body, "client_id": client_id}
                    )

                body = f"bench {run} message {i}"
                product = await _round_trip(send, receiver_of(n), body, f"{run}-{i}")
                bare = await _round_trip(send_bare, bare_receiver, body, f"{run}-{i}")
                if product is None:
                    result.product_lost += 1
                elif i >= args.warmup:
                    result.product.append(product)
                if bare is None:
                    result.bare_lost += 1
                elif i >= args.warmup:
                    result.bare.append(bare)
        after = await asyncio.to_thread(db_counters, database)
        errors = [e for s in agent_sockets.values() for e in s.errors]
        errors += [e for s in buyer_sockets for e in s.errors]
        return result, states, errors, (before, after)
    finally:
        if pinger is not None:
            pinger.cancel()
        for s in [*sockets, *closing]:
            await s.close()
        await api.close()


async def _bare_socket(url: str) -> Socket:
    from websockets.asyncio.client import connect

    ws = await connect(url, proxy=None, open_timeout=30)  # type: ignore[arg-type]
    return Socket(ws, {})


def main(argv: list[str]) -> int:
    args = _args(argv)
    table = "bench_bare_messages"
    with (
        work_dir(args.keep) as tmp,
        scratch_database("srv_latency", keep=args.keep) as database,
        scratch_database("bare_latency", migrate=False, keep=args.keep) as bare_database,
        scratch_redis(args.redis_db) as redis,
    ):
        sql_exec(
            bare_database,
            sql.SQL(
                "CREATE TABLE {} (id bigserial PRIMARY KEY, body text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(table)),
        )
        port = free_port()
        command = [sys.executable, "-m", "bench._bare_ws", "--port", str(port)]
        command += ["--database-url", bare_database, "--redis-url", redis, "--table", table]
        log = tmp / "bare.log"
        with (
            uvicorn_server(database, redis, tmp / "server.log") as server,
            subprocess_in_session(command, clean_env(), log, port) as bare_server,
        ):
            wait_for(
                "the bare pipeline", lambda: "listening" in log.read_text(errors="replace"), 30, log
            )
            result, states, errors, db = asyncio.run(
                _measure(server.base, server.ws, bare_server.ws, database, args, server.pid)
            )
        if args.keep:
            print(f"kept: databases {database} and {bare_database}, logs in {tmp}")

    latencies, bare, lost, bare_lost = (
        result.product,
        result.bare,
        result.product_lost,
        result.bare_lost,
    )
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
