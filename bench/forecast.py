"""How long the staffing forecast (SPEC G4, ``apps.routing.forecast``) takes for a sale day.

A day of ``--arrivals`` buyers (default 10,000) asking for a human along a sale day's hourly
curve, handling times exponential around 10 minutes, a roster of shifts (about 60 agents of
max 5 at the peak) in a shop with the default routing settings: the forecast (arrivals drawn,
every event simulated through ``engine.decide`` and ``engine.dispatch``, the figures per 15
minutes) must take seconds, not minutes. The suggestion (the smallest roster per hour keeping
the 2-minute rate at 80 %) is timed too.

Beside it, the bare machine: a heap-based event loop over the same number of events (each
buyer's arrival and end) with a plain FIFO queue and the first free agent, no routing rules,
no figures. The ratio says what the product's rules and measures cost per event.

No database, no server: the forecast reads the shop once and then runs in memory, so that is
what is timed.

    python -m bench.forecast [--arrivals N] [--runs N] [--quick] [--no-suggest]
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
import time
from collections import deque
from datetime import UTC, datetime

from apps.routing import engine
from apps.routing import forecast as fc
from bench._common import Comparison, print_comparisons, step

# A sale day's shape (share of the day's buyers per hour): quiet night, a morning, the 20:00
# peak. Scaled to --arrivals.
SHAPE = [1, 1, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 7, 7, 8, 10, 12, 10, 6, 3]
MAX_CONCURRENT = 5
MEAN_HANDLING = 600.0
DAY_START = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)  # 11.11 in Asia/Shanghai
TIME_LIMIT_SECONDS = 5.0  # a 10,000-buyer day: seconds, not minutes


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.forecast", description=__doc__)
    parser.add_argument("--arrivals", type=int, default=10_000, help="buyers in the day")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (the median is shown)")
    parser.add_argument("--no-suggest", action="store_true", help="skip the suggestion")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args, _unknown = parser.parse_known_args()  # BENCH_ARGS go to every benchmark
    if args.quick:
        args.arrivals, args.runs = 1_000, 1
    return args


def curve_of(total: int) -> list[int]:
    weight = sum(SHAPE)
    curve = [total * w // weight for w in SHAPE]
    curve[20] += total - sum(curve)
    return curve


def shop_and_roster(curve: list[int]) -> tuple[fc.ShopModel, list[fc.Shift]]:
    """The main account and enough agents per hour for the offered load (at about 90 %)."""
    main = engine.Agent(
        id=1,
        is_main=True,
        status=engine.Status.OFFLINE,
        routing_enabled=True,
        can_chat=True,
        group_id=None,
        weight=10,
        max_concurrent=MAX_CONCURRENT,
        open_count=0,
    )
    shop = fc.ShopModel(agents=(main,), groups=(), rules=engine.Settings(), default_max=5)
    shifts = []
    for hour, count in enumerate(curve):
        agents = round(count * MEAN_HANDLING / fc.HOUR / MAX_CONCURRENT / 0.9)
        if agents:
            shifts.append(fc.Shift(start=hour * fc.HOUR, end=(hour + 1) * fc.HOUR, count=agents))
    return shop, shifts


def forecast_once(shop: fc.ShopModel, curve: list[int], shifts: list[fc.Shift]) -> fc.Forecast:
    rng = random.Random(1)  # noqa: S311 (a reproducible day)
    arrivals = fc.generate_arrivals(curve, fc.Handling(mean=MEAN_HANDLING), rng, day_seconds=86400)
    roster = fc.compile_roster(shop, shifts, 86400)
    return fc.simulate(shop, arrivals, roster, day_start=DAY_START)


def bare_loop(curve: list[int], agents: int) -> int:
    """The same number of events through a bare heap: arrivals and ends, a FIFO queue, the
    first free agent. Returns the events processed."""
    rng = random.Random(1)  # noqa: S311
    times: list[float] = []
    for hour, count in enumerate(curve):
        times.extend(rng.uniform(hour * 3600, (hour + 1) * 3600) for _n in range(count))
    times.sort()
    heap: list[tuple[float, int, int]] = [(t, 1, n) for n, t in enumerate(times)]
    heapq.heapify(heap)
    free = [MAX_CONCURRENT] * agents
    waiting: deque[int] = deque()
    events = 0
    while heap:
        t, kind, who = heapq.heappop(heap)
        events += 1
        if kind == 0:  # an end: the agent's slot frees, the next waiting buyer takes it
            free[who] += 1
            if waiting:
                waiting.popleft()
                free[who] -= 1
                heapq.heappush(heap, (t + rng.expovariate(1 / MEAN_HANDLING), 0, who))
            continue
        agent = next((a for a in range(agents) if free[a]), None)
        if agent is None:
            waiting.append(who)
            continue
        free[agent] -= 1
        heapq.heappush(heap, (t + rng.expovariate(1 / MEAN_HANDLING), 0, agent))
    return events


def timed(runs: int, work: object) -> float:
    assert callable(work)
    seconds = []
    for _run in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> int:
    args = _args()
    curve = curve_of(args.arrivals)
    shop, shifts = shop_and_roster(curve)
    peak = max(s.count for s in shifts)
    step(
        f"A sale day of {sum(curve):,} buyers (peak {max(curve):,} an hour), {peak} agents of "
        f"max {MAX_CONCURRENT} at the peak, handling ~{MEAN_HANDLING / 60:.0f} min"
    )
    result = forecast_once(shop, curve, shifts)
    s = result.summary
    step(
        f"Forecast: 2-minute rate {s.rate_2min:.1%}, waits p50 {s.wait_p50:.0f} s / p90 "
        f"{s.wait_p90:.0f} s, longest queue {s.queue_max}, load {s.load:.0%}, "
        f"{s.decisions:,} routing decisions"
    )
    product = timed(args.runs, lambda: forecast_once(shop, curve, shifts))
    bare = timed(args.runs, lambda: bare_loop(curve, peak))
    rows = [Comparison("forecast of the day", product * 1000, bare * 1000, "ms", "")]
    suggest_seconds = None
    if not args.no_suggest:
        rng = random.Random(1)  # noqa: S311
        arrivals = fc.generate_arrivals(
            curve, fc.Handling(mean=MEAN_HANDLING), rng, day_seconds=86400
        )
        started = time.perf_counter()
        suggestion = fc.suggest(shop, arrivals, day_start=DAY_START, target=0.8)
        suggest_seconds = time.perf_counter() - started
        rows.append(
            Comparison("suggestion (one run)", suggest_seconds * 1000, bare * 1000, "ms", "")
        )
        step(
            f"Suggestion: {suggestion.staffed_hours:.0f} agent-hours, target met: "
            f"{suggestion.met}, the day's rate {suggestion.forecast.summary.rate_2min:.1%}"
        )
    print_comparisons(
        f"Staffing forecast, {sum(curve):,} buyers (median of {args.runs}; bare: a heap loop "
        "over the same events)",
        rows,
    )
    verdict = "met" if product <= TIME_LIMIT_SECONDS else "NOT met"
    print(
        f"\n  a {sum(curve):,}-buyer day forecast in {product:.2f} s "
        f"(limit {TIME_LIMIT_SECONDS:.0f} s: {verdict}); "
        f"{product / max(1, 2 * sum(curve)) * 1e6:.1f} µs per buyer event"
        + (f"; the suggestion in {suggest_seconds:.1f} s" if suggest_seconds else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
