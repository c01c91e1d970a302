"""The definitions of the metrics (SPEC G3; API.md, "Live board and metrics"), computed from the
stored timestamps: one place, used for today live, for the daily rows of the beat job and for the
board's figures of the day (docs/metrics.md gives the definitions in words).

A conversation counts on the day (the shop's time zone) its buyer asked for a human
(``human_requested_at``), for the agent it was first assigned to (``first_agent``; none: the shop
only). Its first response is the first agent message or the welcome (``first_response_at``),
measured from the request, queue time included; it is within 2 minutes when at most 120 s passed.
A conversation is *rated* for the 2-minute rule once its outcome is known: answered, closed, or
unanswered for 2 minutes already; a rated one that was not answered within 2 minutes is a failure
(closed unanswered included). Handling time runs from the first assignment to the close. Ratings,
buyers who left the queue and the assignment reason belong to their conversation's day. Online
and paused seconds come from the status changes (``routing.StatusChange``), cut at the days'
boundaries and at ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncDate

from apps.conversations.models import Conversation
from apps.routing.models import AgentState, AgentStatus, StatusChange

TWO_MINUTES = timedelta(seconds=120)
ONE_DAY = timedelta(days=1)
SHOP = None  # the agent (or group) key of the shop's own rows


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the shop's time zone (an aware datetime)."""
    return datetime.combine(day, time.min, tzinfo=zone)


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


@dataclass
class Figures:
    """One day of one agent (or of the shop): sums and counts, as ``DailyMetrics`` stores them."""

    conversations: int = 0
    answered: int = 0
    within_2min: int = 0
    rated: int = 0
    first_response_seconds: float = 0.0
    handled: int = 0
    handling_seconds: float = 0.0
    ratings_count: int = 0
    ratings_sum: int = 0
    left_queue: int = 0
    online_seconds: int = 0
    paused_seconds: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    SUMMED = (
        "conversations",
        "answered",
        "within_2min",
        "rated",
        "first_response_seconds",
        "handled",
        "handling_seconds",
        "ratings_count",
        "ratings_sum",
        "left_queue",
        "online_seconds",
        "paused_seconds",
    )

    def add(self, other: Figures) -> None:
        for name in self.SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count

    @property
    def empty(self) -> bool:
        # Every count and sum is zero when these are (a rated, answered or handled conversation
        # is a conversation; a rating or a left buyer belongs to one).
        return not (self.conversations or self.online_seconds or self.paused_seconds)

    # The figures of API.md, from the sums.
    @property
    def first_response_2min_rate(self) -> float | None:
        return round(self.within_2min / self.rated, 4) if self.rated else None

    @property
    def avg_first_response_seconds(self) -> float | None:
        return round(self.first_response_seconds / self.answered, 1) if self.answered else None

    @property
    def avg_handling_seconds(self) -> float | None:
        return round(self.handling_seconds / self.handled, 1) if self.handled else None

    @property
    def ratings_avg(self) -> float | None:
        return round(self.ratings_sum / self.ratings_count, 2) if self.ratings_count else None


# (day, agent id or None) -> Figures
ByAgentDay = dict[tuple[date, int | None], Figures]


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000  # SQLite gives durations in microseconds


def conversation_figures(
    shop_id: int, zone: ZoneInfo, first: date, last: date, now: datetime
) -> ByAgentDay:
    """The conversation figures of the days ``first`` .. ``last``, per day and first agent (the
    agent None: conversations nobody was assigned). One query, grouped by day, agent and
    assignment reason, over the index of requests (``conversation_requested_idx``)."""
    start, end = day_start(first, zone), day_start(last + ONE_DAY, zone)
    answered = Q(first_response_at__isnull=False)
    handled = Q(closed_at__isnull=False, first_assigned_at__isnull=False)
    response = ExpressionWrapper(
        F("first_response_at") - F("human_requested_at"), output_field=DurationField()
    )
    handling = ExpressionWrapper(
        F("closed_at") - F("first_assigned_at"), output_field=DurationField()
    )
    rows = (
        Conversation.objects.filter(
            shop_id=shop_id, human_requested_at__gte=start, human_requested_at__lt=end
        )
        .annotate(day=TruncDate("human_requested_at", tzinfo=zone))
        .values("day", "first_agent_id", "first_assign_reason")
        .annotate(
            conversations=Count("id"),
            answered=Count("id", filter=answered),
            within_2min=Count(
                "id",
                filter=answered & Q(first_response_at__lte=F("human_requested_at") + TWO_MINUTES),
            ),
            rated=Count(
                "id",
                filter=answered
                | Q(closed_at__isnull=False)
                | Q(human_requested_at__lte=now - TWO_MINUTES),
            ),
            response=Sum(response, filter=answered),
            handled=Count("id", filter=handled),
            handling=Sum(handling, filter=handled),
            ratings_count=Count("rating"),
            ratings_sum=Sum("rating__score"),
            left_queue=Count("id", filter=Q(left_queue_at__isnull=False)),
        )
        .order_by()
    )
    found: ByAgentDay = {}
    for row in rows:
        figures = found.setdefault((row["day"], row["first_agent_id"]), Figures())
        figures.add(
            Figures(
                conversations=row["conversations"],
                answered=row["answered"],
                within_2min=row["within_2min"],
                rated=row["rated"],
                first_response_seconds=_seconds(row["response"]),
                handled=row["handled"],
                handling_seconds=_seconds(row["handling"]),
                ratings_count=row["ratings_count"],
                ratings_sum=row["ratings_sum"] or 0,
                left_queue=row["left_queue"],
                reasons=(
                    {row["first_assign_reason"]: row["conversations"]}
                    if row["first_agent_id"] is not None and row["first_assign_reason"]
                    else {}
                ),
            )
        )
    return found


def status_seconds(
    shop_id: int, zone: ZoneInfo, first: date, last: date, now: datetime
) -> dict[tuple[date, int], tuple[int, int]]:
    """Online and paused seconds per day and account over ``first`` .. ``last``, up to ``now``:
    each account's status when the range starts (its last change before, by the index
    ``statuschange_account_at``; offline without one), then its changes in the range. Two
    queries."""
    start, end = day_start(first, zone), day_start(last + ONE_DAY, zone)
    stop = min(end, now)
    if stop <= start:
        return {}
    before = (
        StatusChange.objects.filter(account_id=OuterRef("account_id"), at__lt=start)
        .order_by("-at")
        .values("status")[:1]
    )
    initial = dict(
        AgentState.objects.filter(shop_id=shop_id)
        .annotate(initial=Subquery(before))
        .values_list("account_id", "initial")
    )
    changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for account_id, status, at in (
        StatusChange.objects.filter(shop_id=shop_id, at__gte=start, at__lt=stop)
        .order_by("account_id", "at", "id")
        .values_list("account_id", "status", "at")
    ):
        changes[account_id].append((at, status))
    totals: dict[tuple[date, int], list[float]] = {}
    for account_id in set(initial) | set(changes):
        status = initial.get(account_id) or AgentStatus.OFFLINE
        since = start
        for at, new_status in [*changes.get(account_id, []), (stop, "")]:
            if status in (AgentStatus.ONLINE, AgentStatus.PAUSED) and at > since:
                slot = 0 if status == AgentStatus.ONLINE else 1
                for day, seconds in _split_by_day(since, at, zone):
                    totals.setdefault((day, account_id), [0.0, 0.0])[slot] += seconds
            status, since = new_status, at
    return {key: (round(online), round(paused)) for key, (online, paused) in totals.items()}


def _split_by_day(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[tuple[date, float]]:
    """The seconds of [start, end) on each of the shop's days it touches."""
    day = start.astimezone(zone).date()
    while start < end:
        boundary = min(end, day_start(day + ONE_DAY, zone))
        yield day, (boundary - start).total_seconds()
        start, day = boundary, day + ONE_DAY


def figures_of(shop_id: int, zone: ZoneInfo, first: date, last: date, now: datetime) -> ByAgentDay:
    """Every figure of the days ``first`` .. ``last`` per day and agent, plus the shop's row per
    day (agent key ``SHOP``), every day present for the shop."""
    found = conversation_figures(shop_id, zone, first, last, now)
    for (day, account_id), (online, paused) in status_seconds(
        shop_id, zone, first, last, now
    ).items():
        figures = found.setdefault((day, account_id), Figures())
        figures.online_seconds += online
        figures.paused_seconds += paused
    shop: dict[date, Figures] = {day: Figures() for day in days(first, last)}
    for (day, _agent), figures in found.items():
        shop[day].add(figures)
    result: ByAgentDay = {k: v for k, v in found.items() if k[1] is not None}
    for day, figures in shop.items():
        result[(day, SHOP)] = figures
    return result


@dataclass
class QueueFigures:
    """One day of one group's queue (seed 004): buyers who waited for their first agent."""

    arrivals: int = 0
    served: int = 0
    served_within_2min: int = 0
    left_queue: int = 0
    wait_seconds: float = 0.0
    max_wait_seconds: float = 0.0

    def add(self, other: QueueFigures) -> None:
        self.arrivals += other.arrivals
        self.served += other.served
        self.served_within_2min += other.served_within_2min
        self.left_queue += other.left_queue
        self.wait_seconds += other.wait_seconds
        self.max_wait_seconds = max(self.max_wait_seconds, other.max_wait_seconds)

    @property
    def avg_wait_seconds(self) -> float | None:
        return round(self.wait_seconds / self.served, 1) if self.served else None


def queue_figures(
    shop_id: int, zone: ZoneInfo, first: date, last: date
) -> dict[tuple[date, int | None], QueueFigures]:
    """Per day and group (``queue_group``), and the shop's row per day (group ``SHOP``): the
    buyers who waited in the queue before their first agent (``first_queued_at`` up to
    ``first_assigned_at``), how many an agent took, how many left, their waits. One query."""
    start, end = day_start(first, zone), day_start(last + ONE_DAY, zone)
    served = Q(first_assigned_at__isnull=False)
    wait = ExpressionWrapper(
        F("first_assigned_at") - F("first_queued_at"), output_field=DurationField()
    )
    rows = (
        Conversation.objects.filter(
            shop_id=shop_id,
            human_requested_at__gte=start,
            human_requested_at__lt=end,
            first_queued_at__isnull=False,
        )
        .filter(Q(first_assigned_at__isnull=True) | Q(first_assigned_at__gte=F("first_queued_at")))
        .annotate(day=TruncDate("human_requested_at", tzinfo=zone))
        .values("day", "queue_group_id")
        .annotate(
            arrivals=Count("id"),
            served=Count("id", filter=served),
            served_within_2min=Count(
                "id", filter=served & Q(first_assigned_at__lte=F("first_queued_at") + TWO_MINUTES)
            ),
            left=Count("id", filter=Q(left_queue_at__isnull=False)),
            wait=Sum(wait, filter=served),
            longest=Max(wait, filter=served),
        )
        .order_by()
    )
    found: dict[tuple[date, int | None], QueueFigures] = {
        (day, SHOP): QueueFigures() for day in days(first, last)
    }
    for row in rows:
        figures = QueueFigures(
            arrivals=row["arrivals"],
            served=row["served"],
            served_within_2min=row["served_within_2min"],
            left_queue=row["left"],
            wait_seconds=_seconds(row["wait"]),
            max_wait_seconds=_seconds(row["longest"]),
        )
        found[(row["day"], SHOP)].add(figures)
        if row["queue_group_id"] is not None:
            found.setdefault((row["day"], row["queue_group_id"]), QueueFigures()).add(figures)
    return found
