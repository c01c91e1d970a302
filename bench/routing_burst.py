"""Burst benchmark for one shop's routing (DESIGN, routing decision: 1,000 assignments/s).

``python -m bench.routing_burst [--processes 8] [--requests 2000] [--agents 20]
[--bare-claims 5000] [--quick]``

Creates a scratch database next to ``DATABASE_URL``'s (``<name>_bench``, dropped at the end
unless ``--keep``), migrates it, makes one shop with ``--agents`` online agents who have room for
every buyer, then ``--processes`` spawned processes (each its own connection) ask for a human
``--requests`` times in all, at once. Reports assignments per second and request latency.
Every request takes the shop's advisory lock, so this measures the serialized section. Beside
it, in the same run and database, the bare locked claim loop of ``bench._common.bare_claims``
over as many connections as processes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any

from bench._common import Comparison, bare_claims, database_url, print_comparisons


def _setup(db_name: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"
    from django.conf import settings

    if db_name:
        settings.DATABASES["default"]["NAME"] = db_name
    import django

    django.setup()


def _client(db_name: str, shop_id: int, index: int, count: int, barrier: Any, out: Any) -> None:
    _setup(db_name)
    from django.db import connection

    from apps.conversations import lifecycle as conv
    from apps.shopdata.models import Buyer

    buyers = list(Buyer.objects.filter(shop_id=shop_id, external_id__startswith=f"p{index}-"))
    latencies: list[float] = []
    states: dict[str, int] = {}
    barrier.wait(timeout=300)
    for buyer in buyers[:count]:
        started = time.perf_counter()
        c = conv.request_human(conversation=conv.conversation_open(buyer=buyer))
        latencies.append(time.perf_counter() - started)
        states[c.state] = states.get(c.state, 0) + 1
    connection.close()
    out.put((time.perf_counter(), latencies, states))


def _admin_sql(sql: str) -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(sql)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--bare-claims", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args, _unknown = parser.parse_known_args(argv)  # BENCH_ARGS go to every benchmark
    if args.quick:
        args.requests, args.processes, args.bare_claims = 200, 4, 1000

    _setup()
    from django.conf import settings

    bench_db = f"{settings.DATABASES['default']['NAME']}_bench"
    _admin_sql(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
    _admin_sql(f'CREATE DATABASE "{bench_db}"')
    try:
        settings.DATABASES["default"]["NAME"] = bench_db
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", interactive=False, verbosity=0)
        from apps.accounts.permissions import Perm
        from apps.backoffice import services as account_services
        from apps.conversations.lifecycle import agent_set_status
        from apps.routing.models import AgentState, AgentStatus
        from apps.shopdata.models import Buyer

        signup = account_services.shop_signup(
            slug="bench-shop", name="Bench", password="correct-horse-battery"
        )
        AgentState.objects.filter(account=signup.account).update(routing_enabled=False)
        per_agent = -(-args.requests // args.agents)
        for i in range(args.agents):
            agent = account_services.account_create(
                actor=signup.account,
                name=f"agent{i}",
                password="correct-horse-battery",
                permissions={Perm.CHAT},
            )
            AgentState.objects.filter(account=agent).update(max_concurrent=max(per_agent, 1))
            agent_set_status(account=agent, status=AgentStatus.ONLINE)
        each = -(-args.requests // args.processes)
        Buyer.objects.bulk_create(
            Buyer(shop=signup.shop, external_id=f"p{p}-{b}")
            for p in range(args.processes)
            for b in range(each)
        )
        connection.close()

        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(args.processes + 1)
        out = ctx.Queue()
        clients = [
            ctx.Process(target=_client, args=(bench_db, signup.shop.pk, p, each, barrier, out))
            for p in range(args.processes)
        ]
        for c in clients:
            c.start()
        barrier.wait(timeout=300)
        started = time.perf_counter()
        results = [out.get(timeout=600) for _ in clients]
        for c in clients:
            c.join(timeout=60)
        finished = max(r[0] for r in results)
        latencies = sorted(x for r in results for x in r[1])
        states: dict[str, int] = {}
        for r in results:
            for state, n in r[2].items():
                states[state] = states.get(state, 0) + n
        seconds = finished - started
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(
            f"{len(latencies)} requests from {args.processes} processes in {seconds:.2f} s: "
            f"{len(latencies) / seconds:.0f} per second; latency p50 "
            f"{statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
            f"max {latencies[-1] * 1000:.1f} ms; outcomes {states}; "
            f"goal 1,000 per second: {'met' if len(latencies) / seconds >= 1000 else 'NOT met'}"
        )
        from django.db import connections

        connections.close_all()
        bare = asyncio.run(
            bare_claims(
                database_url(bench_db),
                connections=args.processes,
                claims=args.bare_claims,
                agents=args.agents,
            )
        )
        print(
            f"Bare (same run, same PostgreSQL): {bare.claims} locked claims (advisory lock, "
            f"SELECT FOR UPDATE, UPDATE, COMMIT) over {args.processes} connections: "
            f"{bare.per_second:.0f} claims/s"
        )
        print_comparisons(
            "Routing service in-process vs bare locked claims:",
            [
                Comparison(
                    "requests per second", len(latencies) / seconds, bare.per_second, "/s", ""
                )
            ],
        )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin_sql(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
