"""How fast the metrics answer for a year (SPEC G3; issue 11, must show 4): 365 days × 50 agents.

Builds a scratch database (dropped afterwards unless ``--keep``) with one shop in Asia/Shanghai,
``--agents`` agents (50) and ``--per-day`` conversations a day (400) for ``--days`` days (365),
each with its request, queue time, first response, close, reason and some ratings, and four
status changes per agent and day. Then prints:

- how long the beat job takes to write the daily rows of the whole year (the first run);
- ``GET /api/v1/metrics/`` for the whole year, every agent (the daily rows plus today live), and
  for one agent, through the real view: median and max of several runs;
- today's live rows alone, and the board (``GET /api/v1/monitor/``'s reads);
- for comparison, the year computed live from the conversations (what the daily rows save);
- EXPLAIN ANALYZE of the main queries (the daily rows of a year; one day's conversations).

    python -m bench.metrics_year [--days N] [--agents N] [--per-day N] [--keep] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bench._common import ms, scratch_database, step


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_year", description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--per-day", type=int, default=400, help="conversations a day")
    parser.add_argument("--other-shops", type=int, default=200, help="shops beside it")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args, _unknown = parser.parse_known_args()  # BENCH_ARGS go to every benchmark
    if args.quick:
        args.days, args.agents, args.per_day, args.other_shops = 30, 10, 50, 20
    return args


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, float]:
    seen = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seen.append(time.perf_counter() - started)
    return statistics.median(seen), max(seen)


def main() -> int:
    args = _args()
    with scratch_database("metrics_year", keep=args.keep) as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ.pop("HELPDESK_EMBEDDED", None)
        os.environ["HELPDESK_COALESCE_ENABLED"] = "0"
        import django

        django.setup()
        try:
            run(args)
        finally:
            from django.db import connections

            connections.close_all()
    return 0


def build(args: argparse.Namespace) -> tuple[Any, list[Any], datetime]:
    from zoneinfo import ZoneInfo

    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone

    from apps.backoffice import services as accounts
    from apps.conversations.models import CloseReason, Conversation, Rating, State
    from apps.routing.models import AgentStatus, StatusChange
    from apps.shopdata.models import Buyer

    rng = random.Random(11)  # noqa: S311 (a reproducible data set)
    zone = ZoneInfo("Asia/Shanghai")
    now = timezone.now()
    today = now.astimezone(zone).date()
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        signup = accounts.shop_signup(slug="bench-metrics", name="Bench", password="x" * 12)
        signup.shop.sub_account_quota = args.agents
        signup.shop.save(update_fields=["sub_account_quota"])
        agents = [
            accounts.account_create(
                actor=signup.account, name=f"a{i}", password="x" * 12, permissions=None
            )
            for i in range(args.agents)
        ]
    shop = signup.shop
    buyers = Buyer.objects.bulk_create(
        [Buyer(shop=shop, external_id=f"b{n}") for n in range(5000)], batch_size=5000
    )
    reasons = ["rule"] * 6 + ["queue"] * 3 + ["recent_contact", "reentry"]
    conversations: list[Conversation] = []
    changes: list[StatusChange] = []
    for back in range(args.days, 0, -1):
        day = today - timedelta(days=back)
        opening = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        for agent in agents:
            for hour, status in ((9, "online"), (12, "paused"), (13, "online"), (18, "offline")):
                at = opening + timedelta(hours=hour, minutes=rng.randint(0, 20))
                changes.append(
                    StatusChange(
                        shop=shop, account=agent, status=AgentStatus(status), reason="agent", at=at
                    )
                )
        for _ in range(args.per_day):
            asked = opening + timedelta(seconds=rng.randint(9 * 3600, 18 * 3600))
            agent = rng.choice(agents)
            if rng.random() < 0.04:  # left the queue, never answered
                left = asked + timedelta(seconds=rng.randint(20, 400))
                conversations.append(
                    Conversation(
                        shop=shop,
                        buyer=rng.choice(buyers),
                        state=State.CLOSED,
                        human_requested_at=asked,
                        queued_at=asked,
                        first_queued_at=asked,
                        left_queue_at=left,
                        closed_at=left,
                        close_reason=CloseReason.BUYER_LEFT,
                    )
                )
                continue
            queued = rng.random() < 0.3
            wait = rng.randint(5, 400) if queued else 0
            assigned = asked + timedelta(seconds=wait)
            reason = "queue" if queued else rng.choice(reasons)
            conversations.append(
                Conversation(
                    shop=shop,
                    buyer=rng.choice(buyers),
                    state=State.CLOSED,
                    agent=agent,
                    first_agent=agent,
                    human_requested_at=asked,
                    queued_at=asked if queued else None,
                    first_queued_at=asked if queued else None,
                    assigned_at=assigned,
                    first_assigned_at=assigned,
                    assign_reason=reason,
                    first_assign_reason=reason,
                    first_response_at=assigned + timedelta(seconds=rng.randint(0, 30)),
                    closed_at=assigned + timedelta(seconds=rng.randint(60, 1800)),
                    close_reason=CloseReason.AGENT,
                )
            )
    Conversation.objects.bulk_create(conversations, batch_size=1000)
    StatusChange.objects.bulk_create(changes, batch_size=5000)
    rated = [c for c in conversations if c.first_agent_id and rng.random() < 0.1]
    Rating.objects.bulk_create(
        [Rating(shop=shop, conversation=c, score=rng.randint(3, 5)) for c in rated],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return shop, agents, now


def others(args: argparse.Namespace, now: datetime) -> None:
    """``--other-shops`` shops' daily rows beside the measured shop's (made up, not computed), so
    that the table and its plans look like a shared installation's."""
    from apps.metrics.models import DailyMetrics
    from apps.shops.models import Shop

    rows = []
    for n in range(args.other_shops):
        shop = Shop.objects.create(slug=f"other-{n}", name=f"Other {n}")
        for back in range(1, args.days + 1):
            rows.append(
                DailyMetrics(
                    shop=shop,
                    day=(now - timedelta(days=back)).date(),
                    conversations=back % 50,
                    computed_at=now,
                )
            )
    DailyMetrics.objects.bulk_create(rows, batch_size=2000)
    print(f"  and {len(rows):,} daily rows of {args.other_shops} other shops beside them")


def run(args: argparse.Namespace) -> None:
    from zoneinfo import ZoneInfo

    from django.db import connection
    from rest_framework.test import APIRequestFactory, force_authenticate

    from apps.accounts.models import Account
    from apps.conversations.models import Conversation
    from apps.metrics import services
    from apps.metrics.api.views import MetricsView, MonitorView
    from apps.metrics.figures import day_start, figures_of
    from apps.metrics.models import DailyMetrics

    step(f"Building {args.days} days × {args.agents} agents × {args.per_day} conversations a day")
    started = time.perf_counter()
    shop, agents, now = build(args)
    total = Conversation.objects.filter(shop=shop).count()
    print(f"  {total:,} conversations, built in {time.perf_counter() - started:.1f} s")

    step("The beat job's first run: the daily rows of the whole year")
    started = time.perf_counter()
    done = services.aggregate_finished_days(now=now)
    rows = DailyMetrics.objects.filter(shop=shop).count()
    print(f"  {done.days} days, {rows:,} rows in {time.perf_counter() - started:.1f} s")
    others(args, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    zone = ZoneInfo(shop.time_zone)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=args.days)
    main = Account.objects.select_related("shop").get(shop=shop, kind="main")
    factory = APIRequestFactory()

    def get(view: Any, path: str, **query: Any) -> Any:
        request = factory.get(path, query)
        force_authenticate(request, user=main)
        response = view(request)
        response.render()
        assert response.status_code == 200, response.content[:300]
        return response

    metrics_view, monitor_view = MetricsView.as_view(), MonitorView.as_view()
    year = {"date_from": first.isoformat(), "date_to": today.isoformat()}
    answer = get(metrics_view, "/api/v1/metrics/", **year)
    print(f"\n  a year's answer: {len(answer.data['results']):,} rows")
    step("GET /api/v1/metrics/ (median, max of 5)")
    for label, query in (
        ("a year, every agent", year),
        ("a year, one agent", {**year, "agent": agents[0].pk}),
        ("a year, CSV", {**year, "format": "csv"}),
        ("the last 30 days", {**year, "date_from": (today - timedelta(days=29)).isoformat()}),
        ("today (live)", {}),
    ):
        median, worst = timed(lambda q=query: get(metrics_view, "/api/v1/metrics/", **q))
        print(f"  {label:<24} {ms(median):>10}  max {ms(worst)}")
    median, worst = timed(lambda: get(monitor_view, "/api/v1/monitor/"))
    print(f"  {'GET /api/v1/monitor/':<24} {ms(median):>10}  max {ms(worst)}")
    median, worst = timed(lambda: figures_of(shop.pk, zone, first, today, now), runs=2)
    print(
        f"  {'a year live (no rows)':<24} {ms(median):>10}  max {ms(worst)}  (what the rows save)"
    )

    step("EXPLAIN ANALYZE: the daily rows of a year")
    stored = DailyMetrics.objects.filter(shop_id=shop.pk, day__gte=first, day__lte=today)
    print("  " + stored.explain(analyze=True).replace("\n", "\n  "))
    step("EXPLAIN ANALYZE: one day's conversations (today live, and the job's per day)")
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    day = today - timedelta(days=1)
    query = (
        Conversation.objects.filter(
            shop_id=shop.pk,
            human_requested_at__gte=day_start(day, zone),
            human_requested_at__lt=day_start(day + timedelta(days=1), zone),
        )
        .annotate(day=TruncDate("human_requested_at", tzinfo=zone))
        .values("day", "first_agent_id", "first_assign_reason")
        .annotate(n=Count("id"), ratings=Count("rating"))
        .order_by()
    )
    print("  " + query.explain(analyze=True).replace("\n", "\n  "))


if __name__ == "__main__":
    raise SystemExit(main())
