"""Two versions of the server, side by side, under the same widget burst (not a benchmark:
``make bench`` skips ``bench/_*``). For deciding whether a change to the hot path helps, on a
machine too noisy for two ``bench.widget_burst`` runs minutes apart to say (docs/routing.md,
"Throughput").

    python -m bench._ab [--a DIR] [--b DIR] [--a-env K=V ...] [--b-env K=V ...] [--pairs 4]

``--a``/``--b``: the code each server runs (a checkout or ``git worktree``; default this one),
with this interpreter; ``--a-env``/``--b-env``: environment for that server only. Each server has
a scratch database migrated by its own code and a Redis database of its own; both are warmed up,
every shop and widget session is made beforehand, then the bursts alternate A, B, B, A, A, B ...
(ABBA: a drift of the machine falls on both alike). Printed: each burst's assignments per second
and server CPU per request, and the median of B / A over the pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import _common as common
from bench._common import Api, Buyer, Shop, cpu_reading, make_shop, step, widget_sessions
from bench.widget_burst import burst


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench._ab", description=__doc__)
    parser.add_argument("--a", type=Path, default=common.BASE_DIR)
    parser.add_argument("--b", type=Path, default=common.BASE_DIR)
    parser.add_argument("--a-env", nargs="*", default=[])
    parser.add_argument("--b-env", nargs="*", default=[])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--max", type=int, default=5)
    parser.add_argument("--buyers", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return parser.parse_args(argv)


@contextmanager
def _server(
    code: Path, name: str, redis_db: int, env: list[str], workers: int
) -> Iterator[tuple[common.Process, str]]:
    """A scratch database migrated by ``code`` and a uvicorn running it: the server, the
    database's URL."""
    original = common.BASE_DIR
    common.BASE_DIR = code  # the migrations and the server run from ``code``
    try:
        with ExitStack() as stack:
            database = stack.enter_context(common.scratch_database(f"ab_{name}"))
            redis = stack.enter_context(common.scratch_redis(redis_db))
            tmp = stack.enter_context(common.work_dir())
            extra = dict(item.split("=", 1) for item in env)
            server = stack.enter_context(
                common.uvicorn_server(database, redis, tmp / "server.log", extra, workers)
            )
            common.BASE_DIR = original
            yield server, database
    finally:
        common.BASE_DIR = original


async def _prepare(api: Api, database: str, slug: str, args: argparse.Namespace) -> list[Buyer]:
    shop: Shop = await make_shop(
        api, database, slug=slug, agents=args.agents, max_concurrent=args.max
    )
    return await widget_sessions(
        api, shop, [f"{slug}-{i}" for i in range(args.buyers)], args.concurrency
    )


async def _assigned(api: Api, buyers: list[Buyer], concurrency: int) -> int:
    """``bench.widget_burst``'s burst; how many buyers it assigned."""
    await burst(api, buyers, concurrency)
    return sum(1 for b in buyers if b.conversation and b.conversation["state"] == "active")


async def _run(
    servers: dict[str, common.Process], dbs: dict[str, str], args: argparse.Namespace
) -> None:
    apis = {k: Api(s.base, limit=args.concurrency) for k, s in servers.items()}
    order = []
    for n in range(args.pairs):
        order += ["A", "B"] if n % 2 == 0 else ["B", "A"]
    try:
        step("warm-up: 300 buyers per server")
        for key in ("A", "B"):
            warm = await _prepare(apis[key], dbs[key], "ab-warm", args)
            await _assigned(apis[key], warm, args.concurrency)
        step(f"setup: {len(order)} shops of {args.agents} agents and {args.buyers} buyers")
        shops = [await _prepare(apis[k], dbs[k], f"ab-{i}", args) for i, k in enumerate(order)]
        figures: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
        for i, key in enumerate(order):
            await apis[key].close()
            apis[key] = Api(servers[key].base, limit=args.concurrency)
            await asyncio.sleep(1.0)
            pid = servers[key].pid
            before = cpu_reading(pid)
            started = time.perf_counter()
            assigned = await _assigned(apis[key], shops[i], args.concurrency)
            seconds = time.perf_counter() - started
            after = cpu_reading(pid)
            server_cpu = after.busy.get("server", 0) - before.busy.get("server", 0)
            rate = assigned / seconds
            cpu_ms = server_cpu / args.buyers * 1000
            figures[key].append((rate, cpu_ms))
            print(f"  burst {i + 1} ({key}): {rate:.1f} assignments/s, server {cpu_ms:.2f} ms/req")
        ratios = [b[0] / a[0] for a, b in zip(figures["A"], figures["B"], strict=True)]
        cpus = [b[1] / a[1] for a, b in zip(figures["A"], figures["B"], strict=True)]
        print(
            f"B/A rate: {', '.join(f'{r:.2f}' for r in ratios)} (median "
            f"{statistics.median(ratios):.3f}); B/A server CPU per request: "
            f"{', '.join(f'{r:.2f}' for r in cpus)} (median {statistics.median(cpus):.3f})"
        )
    finally:
        for api in apis.values():
            await api.close()


def main(argv: list[str]) -> int:
    args = _args(argv)
    with ExitStack() as stack:
        servers = {}
        dbs = {}
        for key, code, db, env in (("A", args.a, 8, args.a_env), ("B", args.b, 9, args.b_env)):
            step(f"server {key}: {code} {' '.join(env)}")
            server, database = stack.enter_context(
                _server(code.resolve(), key.lower(), db, env, args.workers)
            )
            servers[key] = server
            dbs[key] = database
        asyncio.run(_run(servers, dbs, args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
