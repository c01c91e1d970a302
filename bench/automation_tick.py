"""The cost of one silence tick (SPEC D5, D6; DESIGN, timers) with many open conversations.

Builds a scratch database (dropped afterwards unless ``--keep``) holding ``--open`` active
conversations (default 100,000) spread over shops and agents, each with its clocks running in
the future, of which ``--due`` (default 100) are past their buyer-silence close. Then prints:

- the query plans of the tick's two selections for each due-at column (the partial indexes
  are used: no scan of the open conversations);
- the time of an idle tick (nothing due) and of the tick that closes the due conversations.

    python -m bench.automation_tick [--open N] [--due N] [--shops N] [--keep] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SCRATCH = "helpdesk_bench_automation"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.automation_tick", description=__doc__)
    parser.add_argument("--open", type=int, default=100_000, help="open conversations")
    parser.add_argument("--due", type=int, default=100, help="conversations due now")
    parser.add_argument("--shops", type=int, default=20, help="shops to spread them over")
    parser.add_argument("--agents", type=int, default=10, help="agents per shop")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args, _unknown = parser.parse_known_args()  # BENCH_ARGS go to every benchmark
    if args.quick:
        args.open, args.due, args.shops = 5_000, 20, 5
    return args


def _admin(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
        "dbname": "postgres",
        "autocommit": True,
    }


def _recreate(url: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(**_admin(url)) as conn:  # type: ignore[arg-type]
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    args = _args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop_helpdesk")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{SCRATCH}"))
    _recreate(url, SCRATCH)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("HELPDESK_EMBEDDED", None)
    # The coalesced pushes (the live board, the staff's queue counts) run on threads of their
    # own after the tick's commits, not in its time, and would still be reading when the
    # scratch database is dropped: off, as in bench.metrics_year.
    os.environ["HELPDESK_COALESCE_ENABLED"] = "0"
    import logging

    import django

    django.setup()
    logging.getLogger("apps").setLevel(logging.WARNING)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _recreate(url, SCRATCH, drop_only=True)
    return 0


def run(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import override_settings
    from django.utils import timezone

    from apps.automation import timers
    from apps.backoffice import services as accounts
    from apps.conversations.lifecycle import timed as services
    from apps.conversations.models import Conversation, State
    from apps.routing.models import AgentState, AgentStatus
    from apps.shopdata.models import Buyer
    from apps.shops.models import ShopSettings

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    now = timezone.now()
    rng = random.Random(5)  # noqa: S311 (a reproducible data set)
    per_shop = args.open // args.shops
    agents_by_shop: dict[int, list[int]] = {}
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for s in range(args.shops):
            signup = accounts.shop_signup(slug=f"bench-{s}", name=f"Bench {s}", password="x" * 12)
            ids = [
                accounts.account_create(
                    actor=signup.account, name=f"a{i}", password="x" * 12, permissions=None
                ).pk
                for i in range(args.agents)
            ]
            agents_by_shop[signup.shop.pk] = ids
    ShopSettings.objects.update(default_max_concurrent=50)
    AgentState.objects.update(status=AgentStatus.ONLINE, last_seen_at=now)
    durations = timers.Durations()
    rows: list[Conversation] = []
    serial = 0
    for shop_id, agent_ids in agents_by_shop.items():
        buyers = Buyer.objects.bulk_create(
            [Buyer(shop_id=shop_id, external_id=f"b{n}") for n in range(per_shop)],
            batch_size=5000,
        )
        for n, buyer in enumerate(buyers):
            serial += 1
            start = now - timedelta(seconds=rng.randint(0, 100))  # the last message
            c = Conversation(
                shop_id=shop_id,
                buyer=buyer,
                state=State.ACTIVE,
                agent_id=agent_ids[n % len(agent_ids)],
                assigned_at=start,
                human_requested_at=start,
            )
            if n % 2:
                timers.start_buyer_clock(c, durations, start)
            else:
                timers.start_agent_clock(c, durations, start)
            rows.append(c)
    for c in rng.sample(rows, args.due):
        timers.stop(c)
        c.buyer_close_at = now - timedelta(seconds=1)
    # 1,000 rows a statement: the conversation has an array column, so Django inserts with
    # VALUES (not UNNEST), one parameter a value, and PostgreSQL takes at most 65,535.
    Conversation.objects.bulk_create(rows, batch_size=1000)
    for agent_ids in agents_by_shop.values():
        for agent_id in agent_ids:
            AgentState.objects.filter(account_id=agent_id).update(
                open_count=Conversation.objects.filter(agent_id=agent_id).count()
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    total = Conversation.objects.filter(state=State.ACTIVE).count()
    print(
        f"Scratch database {SCRATCH}: {total:,} active conversations in {args.shops} shops, "
        f"{args.due} due now (built in {time.perf_counter() - started:.1f} s)."
    )

    busiest = services.due_shops("buyer_close_at", now)[0]
    print("\nQuery plans of the tick's two selections, per due-at column:")
    for column, _step in services.STEPS:
        with transaction.atomic():
            shops = due_shops_query(column, now).explain(analyze=True)
            rows = due_rows_query(busiest, column, now).explain(analyze=True)
            transaction.set_rollback(True)
        print(f"-- {column}: the shops with something due")
        print("   " + shops.replace("\n", "\n   "))
        print(f"-- {column}: one shop's due rows (FOR UPDATE SKIP LOCKED LIMIT n)")
        print("   " + rows.replace("\n", "\n   "))

    idle = []
    for _ in range(20):
        t = time.perf_counter()
        result = services.timers_run_due(now=now - timedelta(hours=1))
        idle.append(time.perf_counter() - t)
        assert result.total == 0
    print(
        f"\nIdle tick (nothing due, 4 selections): median {_ms(statistics.median(idle))}, "
        f"max {_ms(max(idle))}"
    )
    t = time.perf_counter()
    result = services.timers_run_due(now=now)
    busy = time.perf_counter() - t
    closed = Conversation.objects.filter(state=State.CLOSED, close_reason="buyer_silence").count()
    print(
        f"Tick with {args.due} due: {_ms(busy)} ({result.done}; {closed} closed, "
        f"{_ms(busy / max(1, result.total))} per conversation: notice, rating request, "
        f"events, dispatch)"
    )
    t = time.perf_counter()
    again = services.timers_run_due(now=now)
    print(f"The same tick again: {_ms(time.perf_counter() - t)}, {again.total} done (idempotent)")
    assert closed == args.due and again.total == 0


def due_shops_query(column: str, now: object) -> Any:
    """``services.due_shops`` as a queryset, for EXPLAIN."""
    from apps.conversations.lifecycle.timed import MAX_SHOPS
    from apps.conversations.models import Conversation

    return (
        Conversation.objects.filter(**{f"{column}__lte": now})
        .order_by()
        .values_list("shop_id", flat=True)
        .distinct()[:MAX_SHOPS]
    )


def due_rows_query(shop_id: int, column: str, now: object) -> Any:
    """``services.due_rows`` as a queryset, for EXPLAIN."""
    from apps.conversations.lifecycle.timed import BATCH
    from apps.conversations.models import Conversation

    return (
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(shop_id=shop_id, **{f"{column}__lte": now})
        .order_by(column)[:BATCH]
    )


if __name__ == "__main__":
    sys.exit(main())
