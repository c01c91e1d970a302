"""A burst of buyers asking for a human in one shop (DESIGN, routing decision: the goal is 1,000
assignments per second for a single shop, decisions serialized per shop by the advisory lock).

Builds a scratch database (dropped afterwards unless ``--keep``) with one shop and ``--agents``
online agents with room for everyone, then has ``--workers`` threads, each with its own database
connection, ask for a human for ``--buyers`` buyers as fast as they can (the full service:
``conversation_open`` + ``request_human``, as the widget's POST does). Prints the throughput, the
latency percentiles, and the cost of the pure decision alone for comparison.

    python -m bench.routing_burst [--buyers N] [--agents N] [--workers N] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from bench.automation_tick import _ms, _recreate

SCRATCH = "helpdesk_bench_routing"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.routing_burst", description=__doc__)
    parser.add_argument("--buyers", type=int, default=2000, help="buyers asking at once")
    parser.add_argument("--agents", type=int, default=50, help="online agents")
    parser.add_argument("--workers", type=int, default=8, help="threads, one connection each")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args, _unknown = parser.parse_known_args()  # BENCH_ARGS go to every benchmark
    return args


def main() -> int:
    args = _args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop_helpdesk")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{SCRATCH}"))
    _recreate(url, SCRATCH)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("HELPDESK_EMBEDDED", None)
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    try:
        call_command("migrate", verbosity=0)
        return _run(args)
    finally:
        connection.close()
        if not args.keep:
            _recreate(url, SCRATCH, drop_only=True)


def _run(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.db import connections
    from django.db.models import Count

    from apps.accounts import services as account_services
    from apps.accounts.permissions import Perm
    from apps.conversations import services as conv
    from apps.conversations.models import Conversation, State
    from apps.routing import engine
    from apps.routing.models import AgentState, AgentStatus
    from apps.routing.services import agent_set_status, load_drift
    from apps.shopdata.models import Buyer

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    signup = account_services.shop_signup(slug="bench", name="Bench", password="bench-Passw0rd")
    shop = signup.shop
    shop.settings.welcome_enabled = False  # measure routing, not the welcome message
    shop.settings.default_max_concurrent = 50
    shop.settings.save()
    shop.sub_account_quota = args.agents
    shop.save()
    for i in range(args.agents):
        agent = account_services.account_create(
            actor=signup.account, name=f"a{i}", password="bench-Passw0rd", permissions={Perm.CHAT}
        )
        agent_set_status(account=agent, status=AgentStatus.ONLINE)
    Buyer.objects.bulk_create(
        [Buyer(shop=shop, external_id=f"b{i}") for i in range(args.buyers)], batch_size=1000
    )
    buyer_ids = list(Buyer.objects.filter(shop=shop).values_list("pk", flat=True))
    chunks = [buyer_ids[i :: args.workers] for i in range(args.workers)]
    latencies: list[float] = []
    lock = threading.Lock()
    start_line = threading.Barrier(args.workers + 1)

    def work(ids: list[int]) -> None:
        mine: list[float] = []
        start_line.wait()
        for buyer_id in ids:
            begun = time.perf_counter()
            buyer = Buyer.objects.get(pk=buyer_id)
            conversation = conv.conversation_open(buyer=buyer)
            conv.request_human(conversation=conversation)
            mine.append(time.perf_counter() - begun)
        with lock:
            latencies.extend(mine)
        connections.close_all()

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began

    states = dict(
        Conversation.objects.filter(shop=shop).values_list("state").annotate(n=Count("id"))
    )
    over = AgentState.objects.filter(shop=shop, open_count__gt=50).count()
    print(f"routing burst: {args.buyers} buyers, {args.agents} agents, {args.workers} threads")
    print(f"  elapsed        {elapsed:.2f} s")
    print(f"  throughput     {args.buyers / elapsed:.0f} requests/s (goal: 1,000/s for one shop)")
    qs = statistics.quantiles(latencies, n=100)
    print(f"  latency        p50 {_ms(qs[49])}  p95 {_ms(qs[94])}  max {_ms(max(latencies))}")
    print(f"  outcome        {states}  over max: {over}  drift: {load_drift(shop_id=shop.pk)}")
    assert states.get(State.ACTIVE, 0) + states.get(State.QUEUED, 0) == args.buyers

    # The pure decision alone, for comparison: what the lock serializes is mostly I/O.
    agents = [
        engine.Agent(
            id=i,
            is_main=i == 0,
            status=engine.Status.ONLINE,
            routing_enabled=True,
            can_chat=True,
            group_id=None,
            weight=10,
            max_concurrent=50,
            open_count=i % 40,
        )
        for i in range(args.agents)
    ]
    now = datetime.now(UTC)
    rounds = 20_000
    began = time.perf_counter()
    for _ in range(rounds):
        engine.decide(engine.Request(), agents, [], engine.Settings(), now)
    pure = (time.perf_counter() - began) / rounds
    print(f"  pure decide    {pure * 1e6:.0f} us per decision with {args.agents} agents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
