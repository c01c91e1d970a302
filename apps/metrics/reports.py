"""Reads of the metrics (SPEC G3): the rows of ``GET /api/v1/metrics/`` and of the queue report,
from the daily rows for the days the beat job finished and live for today (and for any finished
day it has not reached yet). Always scoped by the caller's shop."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.core.errors import NotFound
from apps.metrics.figures import (
    SHOP,
    ByAgentDay,
    Figures,
    QueueFigures,
    days,
    figures_of,
    queue_figures,
)
from apps.metrics.models import DailyMetrics, DailyQueueMetrics, Targets
from apps.routing.models import Group
from apps.shops.models import Shop

ONE_DAY = timedelta(days=1)
MAX_RANGE_DAYS = 366 * 2  # a longer range is a typo (400 rows per agent already)
DEFAULT_RATE_TARGET = 0.8


@dataclass(frozen=True)
class TargetValues:
    first_response_2min_rate: float | None = DEFAULT_RATE_TARGET
    avg_first_response_seconds: int | None = None
    ratings_avg: float | None = None

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                self.first_response_2min_rate,
                self.avg_first_response_seconds,
                self.ratings_avg,
            )
        )


TARGET_FIELDS = ("first_response_2min_rate", "avg_first_response_seconds", "ratings_avg")


def targets_of(shop_id: int) -> TargetValues:
    """The shop's targets; a shop that never set any has the default (a 2-minute rate of 80 %)."""
    row = Targets.objects.filter(shop_id=shop_id).first()
    if row is None:
        return TargetValues()
    return TargetValues(
        first_response_2min_rate=row.first_response_2min_rate,
        avg_first_response_seconds=row.avg_first_response_seconds,
        ratings_avg=row.ratings_avg,
    )


def judge(figures: Figures, targets: TargetValues) -> dict[str, bool | None]:
    """Each target met (True), missed (False), or not judged (None: no target, or nothing to
    judge yet: no rated conversation, no answer, no rating)."""
    rate, response, rating = (
        figures.first_response_2min_rate,
        figures.avg_first_response_seconds,
        figures.ratings_avg,
    )
    return {
        "first_response_2min_rate": (
            None
            if targets.first_response_2min_rate is None or rate is None
            else rate >= targets.first_response_2min_rate
        ),
        "avg_first_response_seconds": (
            None
            if targets.avg_first_response_seconds is None or response is None
            else response <= targets.avg_first_response_seconds
        ),
        "ratings_avg": (
            None if targets.ratings_avg is None or rating is None else rating >= targets.ratings_avg
        ),
    }


def all_met(verdicts: dict[str, bool | None]) -> bool | None:
    judged = [v for v in verdicts.values() if v is not None]
    return all(judged) if judged else None


class TargetVerdicts(TypedDict):
    first_response_2min_rate: bool | None
    avg_first_response_seconds: bool | None
    ratings_avg: bool | None


class MetricsRow(TypedDict):
    """One row of ``GET /api/v1/metrics/`` (API.md's fields, then the additions of issue 11)."""

    date: str
    agent: int | None
    conversations: int
    answered: int
    first_responses_within_2min: int
    first_response_2min_rate: float | None
    avg_first_response_seconds: float | None
    avg_handling_seconds: float | None
    ratings_count: int
    ratings_avg: float | None
    left_queue: int
    online_seconds: int
    paused_seconds: int
    agent_name: str
    first_responses_rated: int
    assign_reasons: dict[str, int]
    targets: TargetVerdicts
    targets_met: bool | None
    final: bool


class QueueRow(TypedDict):
    """One row of ``GET /api/v1/metrics/queue/`` (seed 004, 买家数据)."""

    date: str
    group: int | None
    group_name: str
    arrivals: int
    served: int
    served_within_2min: int
    left_queue: int
    avg_wait_seconds: float | None
    max_wait_seconds: float | None
    final: bool


@dataclass(frozen=True)
class Period:
    """The days asked for, in the shop's time zone, and what of them is finished."""

    shop: Shop
    zone: ZoneInfo
    first: date
    last: date  # never after today
    today: date

    @property
    def finished_last(self) -> date:
        return min(self.last, self.today - ONE_DAY)


def period_of(shop: Shop, date_from: date | None, date_to: date | None, now: datetime) -> Period:
    """API.md: the dates default to today in the shop's time zone; days after today have no
    rows. The caller has checked ``date_from <= date_to`` and the range's length."""
    zone = ZoneInfo(shop.time_zone)
    today = now.astimezone(zone).date()
    first = date_from or today
    last = min(date_to or today, today)
    return Period(shop=shop, zone=zone, first=first, last=last, today=today)


def _runs(missing: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges."""
    runs: list[tuple[date, date]] = []
    for day in sorted(missing):
        if runs and runs[-1][1] + ONE_DAY == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# The stored columns, in the order of ``Figures``'s fields (read as plain rows: building a
# model instance for each of a year's 18,000 rows cost a third of the answer, bench.metrics_year).
STORED = (*Figures.SUMMED, "reasons")


def agent_get(shop_id: int, agent_id: int) -> Account:
    """An account of the shop; another shop's or a missing id is 404 (SPEC A1)."""
    account = Account.objects.select_related("shop").filter(shop_id=shop_id, pk=agent_id).first()
    if account is None:
        raise NotFound(_("No such agent."), field="agent")
    return account


def metrics_figures(
    period: Period, now: datetime, agent_id: int | None = None
) -> tuple[ByAgentDay, set[date]]:
    """The figures of the period per day and agent (the shop's rows under ``SHOP``), and the
    days they come from the daily rows (final) rather than live."""
    shop_id = period.shop.pk
    found: ByAgentDay = {}
    final: set[date] = set()
    if period.first <= period.finished_last:
        stored = DailyMetrics.objects.filter(
            shop_id=shop_id, day__gte=period.first, day__lte=period.finished_last
        )
        if agent_id is not None:
            stored = stored.filter(Q(agent_id=agent_id) | Q(agent__isnull=True))
        for day, stored_agent, *values in stored.values_list("day", "agent_id", *STORED):
            sums: dict[str, Any] = dict(zip(Figures.SUMMED, values[:-1], strict=True))
            found[(day, stored_agent)] = Figures(**sums, reasons=values[-1] or {})
            if stored_agent is None:
                final.add(day)
    missing = [d for d in days(period.first, period.finished_last) if d not in final]
    live = [*_runs(missing)]
    if period.last >= period.today and period.first <= period.today:
        live.append((period.today, period.today))
    for first, last in live:
        found.update(figures_of(shop_id, period.zone, first, last, now))
    return found, final


def _names(shop: Shop, ids: Iterable[int]) -> dict[int, str]:
    accounts = Account.objects.filter(shop_id=shop.pk, pk__in=set(ids))
    return {a.pk: a.display_name or a.name or shop.name for a in accounts}


def _row(
    day: date,
    agent_id: int | None,
    name: str,
    figures: Figures,
    targets: TargetValues,
    final: bool,
) -> MetricsRow:
    verdicts = judge(figures, targets)
    return {
        "date": day.isoformat(),
        "agent": agent_id,
        "conversations": figures.conversations,
        "answered": figures.answered,
        "first_responses_within_2min": figures.within_2min,
        "first_response_2min_rate": figures.first_response_2min_rate,
        "avg_first_response_seconds": figures.avg_first_response_seconds,
        "avg_handling_seconds": figures.avg_handling_seconds,
        "ratings_count": figures.ratings_count,
        "ratings_avg": figures.ratings_avg,
        "left_queue": figures.left_queue,
        "online_seconds": figures.online_seconds,
        "paused_seconds": figures.paused_seconds,
        "agent_name": name,
        "first_responses_rated": figures.rated,
        "assign_reasons": dict(sorted(figures.reasons.items())),
        "targets": {
            "first_response_2min_rate": verdicts["first_response_2min_rate"],
            "avg_first_response_seconds": verdicts["avg_first_response_seconds"],
            "ratings_avg": verdicts["ratings_avg"],
        },
        "targets_met": all_met(verdicts),
        "final": final,
    }


def _row_order(item: tuple[tuple[date, int | None], Figures]) -> tuple[date, int]:
    return item[0][0], item[0][1] or 0


def metrics_rows(period: Period, now: datetime, agent: Account | None = None) -> list[MetricsRow]:
    """API.md: one row per day and agent plus the shop's row per day, oldest day first, the
    shop's row first within a day, then the agents by id. An agent appears on the days it had
    anything (a conversation, time online or paused); with ``agent`` only its rows, one for
    every day of the period."""
    found, final = metrics_figures(period, now, agent.pk if agent is not None else None)
    targets = targets_of(period.shop.pk)
    rows: list[MetricsRow] = []
    if agent is not None:
        name = agent.display_name or agent.name or period.shop.name
        for day in days(period.first, period.last):
            figures = found.get((day, agent.pk)) or Figures()
            rows.append(_row(day, agent.pk, name, figures, targets, day in final))
        return rows
    names = _names(period.shop, {a for _d, a in found if a is not None})
    for (day, agent_id), figures in sorted(found.items(), key=_row_order):
        if not period.first <= day <= period.last:
            continue
        if agent_id is not SHOP and (figures.empty or agent_id not in names):
            continue
        name = "" if agent_id is None else names[agent_id]
        rows.append(_row(day, agent_id, name, figures, targets, day in final))
    return rows


def queue_rows(period: Period, group: Group | None = None) -> list[QueueRow]:
    """Per day: the whole shop's queue (group null) and each group's with arrivals; with
    ``group`` only its rows, one for every day."""
    shop_id = period.shop.pk
    found: dict[tuple[date, int | None], QueueFigures] = {}
    final: set[date] = set()
    if period.first <= period.finished_last:
        stored = DailyQueueMetrics.objects.filter(
            shop_id=shop_id, day__gte=period.first, day__lte=period.finished_last
        )
        for row in stored:
            found[(row.day, row.group_id)] = QueueFigures(
                arrivals=row.arrivals,
                served=row.served,
                served_within_2min=row.served_within_2min,
                left_queue=row.left_queue,
                wait_seconds=row.wait_seconds,
                max_wait_seconds=row.max_wait_seconds,
            )
            if row.group_id is None:
                final.add(row.day)
    missing = [d for d in days(period.first, period.finished_last) if d not in final]
    live = _runs(missing)
    if period.last >= period.today and period.first <= period.today:
        live.append((period.today, period.today))
    for first, last in live:
        found.update(queue_figures(shop_id, period.zone, first, last))
    names = dict(Group.objects.filter(shop_id=shop_id).values_list("pk", "name"))
    rows: list[QueueRow] = []
    for day in days(period.first, period.last):
        keys: list[int | None] = (
            [group.pk]
            if group is not None
            else [SHOP, *sorted(g for d, g in found if d == day and g)]
        )
        for key in keys:
            if key is not None and key not in names:
                continue  # a group deleted since
            figures = found.get((day, key)) or QueueFigures()
            rows.append(
                {
                    "date": day.isoformat(),
                    "group": key,
                    "group_name": "" if key is None else names[key],
                    "arrivals": figures.arrivals,
                    "served": figures.served,
                    "served_within_2min": figures.served_within_2min,
                    "left_queue": figures.left_queue,
                    "avg_wait_seconds": figures.avg_wait_seconds,
                    "max_wait_seconds": (
                        round(figures.max_wait_seconds, 1) if figures.served else None
                    ),
                    "final": day in final,
                }
            )
    return rows
