"""The staffing forecast's reads and answer (SPEC G4; docs/forecast.md).

Read-only: the shop's routing configuration once (``routing.snapshot.load_snapshot``, the same
agents, effective max and groups the engine decides with), and for a recorded day its
conversations (with each buyer's routing facts, in one query) and the agents' status changes;
then the pure simulation (``apps.routing.forecast``) runs in memory. Nothing is written, and no
lock is taken: the live shop is never touched.

Here rather than in ``apps.routing`` because a recorded day is conversations (routing sits below
them); the REST view (``api/forecast.py``) and the page (``apps.web.forecast_pages``) call
``forecast_run``.
"""

from __future__ import annotations

import random
import statistics
import time
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any, TypedDict

from django.db.models import Count, Exists, Max, OuterRef, Subquery
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations.models import CloseReason, Conversation, PrivateContact, State
from apps.core.errors import InvalidFields
from apps.routing import engine
from apps.routing import forecast as fc
from apps.routing.models import AgentState, Group, StatusChange
from apps.routing.snapshot import load_snapshot
from apps.shopdata.models import Order
from apps.shops.models import Shop

MAX_ARRIVALS = 100_000  # buyers in one forecast day (a recorded one, or a curve's sum)
MAX_SUGGEST_ARRIVALS = 20_000  # the suggestion plays each hour several times: ~5 s per 10,000
MAX_ROSTER_AGENTS = 2_000  # agents a roster's counted rows may add
DEFAULT_REPLY_SECONDS = 30  # without the welcome (D1): assignment to the agent's first message
RECORDED = "recorded"
DISTRIBUTIONS = (
    RECORDED,
    fc.Distribution.EXPONENTIAL,
    fc.Distribution.LOGNORMAL,
    fc.Distribution.FIXED,
)


@dataclass(frozen=True)
class HandlingSpec:
    """How long agents take (API.md-style input, see docs/forecast.md)."""

    distribution: str = RECORDED
    mean_seconds: int | None = None
    sd_seconds: int | None = None
    date: date | None = None  # ``recorded`` with a curve: the day whose handling times to draw
    reply_seconds: int | None = None
    patience_seconds: int | None = None  # a generated buyer's mean wait before leaving (C5)


@dataclass(frozen=True)
class RosterRow:
    start: int  # seconds since midnight ("from")
    end: int  # ("to"; 24:00 is 86,400)
    agent: int | None = None
    count: int | None = None
    max_concurrent: int | None = None
    group: int | None = None


@dataclass(frozen=True)
class ForecastSpec:
    date: date | None = None
    curve: tuple[int, ...] | None = None
    handling: HandlingSpec | None = None
    roster: tuple[RosterRow, ...] | None = None
    target_rate: float = 0.8
    suggest: bool = False
    suggest_max_concurrent: int | None = None
    seed: int = 0


class RecordedData(TypedDict):
    queue_avg: float
    queue_max: int
    arrivals: int
    rate_2min: float | None


class BucketData(TypedDict):
    start: str
    arrivals: int
    queue_avg: float
    queue_max: int
    wait_p50: int | None
    wait_p90: int | None
    rate_2min: float | None
    answered_2min: int
    load: float | None
    recorded: RecordedData | None


class ReplayData(TypedDict):
    queue_avg_mae: float
    queue_avg_max_error: float
    queue_max_mae: float
    recorded_rate_2min: float | None


class SummaryData(TypedDict):
    arrivals: int
    answered: int
    answered_2min: int
    rate_2min: float | None
    worst_hour_rate_2min: float | None
    target_rate: float
    target_met: bool
    left_queue: int
    unanswered: int
    wait_p50: int | None
    wait_p90: int | None
    queue_avg: float
    queue_max: int
    load: float | None
    agent_hours: float
    replay: ReplayData | None


class LineData(TypedDict):
    group: int | None
    count: int


class HourData(TypedDict):
    start: str
    agents: list[LineData]
    arrivals: int
    rate_2min: float | None


class SuggestionData(TypedDict):
    met: bool
    target_rate: float
    staffed_hours: float
    roster: list[dict[str, Any]]
    hours: list[HourData]
    summary: SummaryData
    buckets: list[BucketData]


class InputsData(TypedDict):
    arrivals: str  # recorded | curve
    roster: str  # recorded | given | suggested
    handling: dict[str, Any]


class ForecastAnswer(TypedDict):
    date: str
    time_zone: str
    inputs: InputsData
    buckets: list[BucketData]
    summary: SummaryData
    suggestion: SuggestionData | None
    took_ms: int


@dataclass(frozen=True)
class _Day:
    day: date
    zone: zoneinfo.ZoneInfo
    start: datetime  # local midnight, in UTC
    end: datetime
    seconds: float

    @classmethod
    def of(cls, day: date, zone: zoneinfo.ZoneInfo) -> _Day:
        # In UTC: two aware datetimes of one zone subtract as wall-clock times (a DST day).
        start = datetime.combine(day, clock(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), clock(), tzinfo=zone).astimezone(UTC)
        return cls(day, zone, start, end, (end - start).total_seconds())

    def offset(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()

    def at(self, seconds: float) -> str:
        return (self.start + timedelta(seconds=seconds)).astimezone(self.zone).isoformat()


def hhmm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------------------------------------
# Reading the shop and a recorded day


def _shop_model(shop_id: int, now: datetime, day: _Day) -> tuple[fc.ShopModel, Any]:
    """The engine's view of the shop, as a routing pass loads it, with every agent offline and
    free at the day's start (B5: the even rule's weights reset at midnight)."""
    snapshot = load_snapshot(shop_id, now)
    settings = snapshot.settings
    last = _last_assigned(shop_id, day)
    agents = tuple(
        replace(
            a,
            status=engine.Status.OFFLINE,
            open_count=0,
            wrr_current=0,
            last_assigned_at=last.get(a.id),
        )
        for a in snapshot.agents
    )
    group_max = tuple(
        Group.objects.filter(shop_id=shop_id).order_by("pk").values_list("pk", "max_concurrent")
    )
    model = fc.ShopModel(
        agents=agents,
        groups=tuple(snapshot.groups),
        rules=snapshot.rules,
        queue_order=settings.queue_order,
        pool_auto_assign=settings.pool_auto_assign,
        welcome=settings.welcome_enabled,
        default_max=settings.default_max_concurrent,
        group_max=group_max,
    )
    return model, settings


def _last_assigned(shop_id: int, day: _Day) -> dict[int, datetime]:
    """Each agent's last assignment before the day (B5's tie-break), looked for among the
    requests of the day before (an index on the requests' day; older ones are "never")."""
    rows = (
        Conversation.objects.filter(
            shop_id=shop_id,
            human_requested_at__gte=day.start - timedelta(days=1),
            human_requested_at__lt=day.start,
            assigned_at__lt=day.start,
            agent_id__isnull=False,
        )
        .values("agent_id")
        .annotate(last=Max("assigned_at"))
        .values_list("agent_id", "last")
    )
    return dict(rows)


@dataclass(frozen=True)
class _Recorded:
    arrivals: list[fc.Arrival]
    handling: list[float]  # of the conversations that were assigned and closed
    queued: list[tuple[float, float]]  # (from, until) in the queue, seconds since midnight
    answered_2min: list[int]  # per bucket, recorded
    requested: list[int]  # per bucket, recorded
    reply_seconds: float | None


def _recorded_rows(shop_id: int, day: _Day) -> list[tuple[Any, ...]]:
    """The day's requests for a human, oldest first, with what ``routing_request`` reads of
    each buyer, as it was then: the previous conversation closed before the request, the
    latest order created before it, whether the buyer is a private contact (now: the list
    keeps no history)."""
    shop, buyer, asked = OuterRef("shop_id"), OuterRef("buyer_id"), OuterRef("human_requested_at")
    previous = (
        Conversation.objects.filter(
            shop_id=shop, buyer_id=buyer, state=State.CLOSED, closed_at__lt=asked
        )
        .exclude(agent_id=None)
        .order_by("-closed_at", "-id")
    )
    orders = Order.objects.filter(shop_id=shop, buyer_id=buyer, created_at__lte=asked).order_by(
        "-created_at", "-id"
    )
    rows = (
        Conversation.objects.filter(
            shop_id=shop_id,
            human_requested_at__gte=day.start,
            human_requested_at__lt=day.end,
        )
        .annotate(
            prior_agent=Subquery(previous.values("agent_id")[:1]),
            prior_closed=Subquery(previous.values("closed_at")[:1]),
            private=Exists(PrivateContact.objects.filter(shop_id=shop, buyer_id=buyer)),
            order_status=Subquery(orders.values("status")[:1]),
        )
        .order_by("human_requested_at", "id")
        .values_list(
            "buyer_id",
            "buyer__segments",
            "product__external_id",
            "product__category",
            "intent",
            "chosen_agent_id",
            "human_requested_at",
            "queued_at",
            "assigned_at",
            "pooled_at",
            "closed_at",
            "close_reason",
            "first_response_at",
            "state",
            "prior_agent",
            "prior_closed",
            "private",
            "order_status",
        )
    )
    found = list(rows[: MAX_ARRIVALS + 1])
    if len(found) > MAX_ARRIVALS:
        raise InvalidFields(
            {"date": [_("That day has more than %(n)s requests to replay.") % {"n": MAX_ARRIVALS}]}
        )
    return found


def _read_recorded(
    shop_id: int, day: _Day, now: datetime, rng: random.Random, fallback: fc.Handling
) -> _Recorded:
    """The day's buyers as arrivals (each with its own handling time, assignment to close; one
    drawn from the day's others when it was never assigned or closed; its patience when it
    left the queue, C5), and what was recorded: each buyer's time in the queue and the
    2-minute rate per 15 minutes."""
    rows = _recorded_rows(shop_id, day)
    handled: list[float | None] = []
    for row in rows:
        assigned, closed_at = row[8], row[10]
        ok = assigned is not None and closed_at is not None and closed_at >= assigned
        handled.append(max(1.0, (closed_at - assigned).total_seconds()) if ok else None)
    known = tuple(h for h in handled if h is not None)
    empirical = fc.Handling(fc.Distribution.EMPIRICAL, values=known) if known else fallback
    arrivals: list[fc.Arrival] = []
    queued: list[tuple[float, float]] = []
    buckets = fc.bucket_count(day.seconds)
    within, requested = [0] * buckets, [0] * buckets
    replies: list[float] = []
    for handling, (
        buyer_id,
        segments,
        product,
        category,
        intent,
        chosen,
        asked,
        queued_at,
        assigned,
        pooled,
        closed_at,
        reason,
        first_response,
        state,
        prior_agent,
        prior_closed,
        private,
        order_status,
    ) in zip(handled, rows, strict=True):
        at = day.offset(asked)
        request = engine.Request(
            segments=frozenset(segments or ()),
            product=product,
            product_category=category or None,
            intent=intent or None,
            order_status=order_status or "none",
            private_contact=bool(private),
            chosen_agent_id=chosen,
            last_agent_id=prior_agent,
            last_closed_at=prior_closed,
        )
        patience = None
        if reason == CloseReason.BUYER_LEFT and assigned is None and closed_at is not None:
            patience = max(0.0, (closed_at - asked).total_seconds())
        arrivals.append(
            fc.Arrival(
                at=at,
                handling=handling if handling is not None else max(1.0, empirical.sample(rng)),
                request=request,
                buyer=buyer_id,
                patience=patience,
            )
        )
        b = min(buckets - 1, int(at // fc.BUCKET_SECONDS))
        requested[b] += 1
        if first_response is not None:
            if (first_response - asked).total_seconds() <= fc.TWO_MINUTES:
                within[b] += 1
            if assigned is not None and first_response > assigned:  # not a welcome (D1)
                replies.append((first_response - assigned).total_seconds())
        if queued_at is not None:
            ends = [m for m in (assigned, pooled, closed_at) if m is not None and m >= queued_at]
            if ends:
                until = min(ends)
            elif state == State.QUEUED:
                until = min(now, day.end)
            else:
                continue
            queued.append((max(0.0, day.offset(queued_at)), day.offset(until)))
    return _Recorded(
        arrivals=arrivals,
        handling=list(known),
        queued=queued,
        answered_2min=within,
        requested=requested,
        reply_seconds=statistics.median(replies) if replies else None,
    )


def _recorded_roster(shop: fc.ShopModel, shop_id: int, day: _Day) -> fc.Roster:
    """Who was online when (``StatusChange``, every status an agent took): the status each had
    at midnight, then the day's changes, as they were."""
    before = StatusChange.objects.filter(
        shop_id=OuterRef("shop_id"), account_id=OuterRef("account_id"), at__lt=day.start
    ).order_by("-at", "-id")
    initial = AgentState.objects.filter(shop_id=shop_id).annotate(
        before=Subquery(before.values("status")[:1])
    )
    known = {a.id for a in shop.agents}
    changes = [
        fc.Change(0.0, account_id, engine.Status(status))
        for account_id, status in initial.values_list("account_id", "before")
        if status and account_id in known and status != engine.Status.OFFLINE
    ]
    rows = (
        StatusChange.objects.filter(shop_id=shop_id, at__gte=day.start, at__lt=day.end)
        .order_by("at", "id")
        .values_list("account_id", "status", "at")
    )
    changes += [
        fc.Change(day.offset(at), account_id, engine.Status(status))
        for account_id, status, at in rows
        if account_id in known
    ]
    return fc.Roster(agents=shop.agents, changes=tuple(changes))


@dataclass(frozen=True)
class RecordedDay:
    """A day the page offers to replay: its buyers asking for a human, per hour."""

    day: date
    hours: tuple[int, ...]  # 24 counts, from midnight in the shop's time zone

    @property
    def total(self) -> int:
        return sum(self.hours)


def recorded_days(
    *, shop_id: int, now: datetime | None = None, days: int = 31
) -> list[RecordedDay]:
    """The shop's last ``days`` days with requests for a human, newest first, each with its
    hourly counts (the curve a sale-day forecast can start from). One query."""
    zone = zoneinfo.ZoneInfo(_time_zone(shop_id))
    today = (now or timezone.now()).astimezone(zone).date()
    since = _Day.of(today - timedelta(days=days - 1), zone).start
    rows = (
        Conversation.objects.filter(shop_id=shop_id, human_requested_at__gte=since)
        .annotate(
            day=TruncDate("human_requested_at", tzinfo=zone),
            hour=ExtractHour("human_requested_at", tzinfo=zone),
        )
        .values("day", "hour")
        .annotate(n=Count("id"))
        .values_list("day", "hour", "n")
    )
    per_day: dict[date, list[int]] = {}
    for day, hour, n in rows:
        per_day.setdefault(day, [0] * 24)[hour] += n
    return [RecordedDay(day, tuple(per_day[day])) for day in sorted(per_day, reverse=True)]


@dataclass(frozen=True)
class RosterAgent:
    """An account a roster row may name: one that receives buyers (A4)."""

    id: int
    label: str
    group_id: int | None
    max_concurrent: int  # effective (C1)
    is_main: bool


def roster_agents(*, shop_id: int, now: datetime | None = None) -> list[RosterAgent]:
    """The shop's accounts that receive buyers, as routing sees them (the snapshot)."""
    snapshot = load_snapshot(shop_id, now or timezone.now())
    chatting = [a for a in snapshot.agents if a.can_chat]
    labels = {
        account.pk: account.label
        for account in Account.objects.select_related("shop").filter(
            pk__in=[a.id for a in chatting]
        )
    }
    return [
        RosterAgent(a.id, labels.get(a.id, str(a.id)), a.group_id, a.max_concurrent, a.is_main)
        for a in chatting
    ]


# ---------------------------------------------------------------------------------------------
# The forecast


def _handling_model(spec: HandlingSpec | None) -> fc.Handling | None:
    """The distribution to draw from; None: each recorded conversation keeps its own time."""
    if spec is None or spec.distribution == RECORDED:
        return None
    assert spec.mean_seconds is not None
    return fc.Handling(
        distribution=spec.distribution,
        mean=float(spec.mean_seconds),
        sd=float(spec.sd_seconds) if spec.sd_seconds else None,
    )


def _shifts(shop: fc.ShopModel, rows: Sequence[RosterRow]) -> list[fc.Shift]:
    """The roster's rows as the simulation's shifts, each id checked against the shop: a
    missing account or group and another shop's answer alike (SPEC A1)."""
    agents = {a.id: a for a in shop.agents}
    groups = {g.id for g in shop.groups}
    errors: list[str] = []
    shifts = []
    added = 0
    for n, row in enumerate(rows, start=1):
        if row.agent is not None:
            agent = agents.get(row.agent)
            if agent is None:
                errors.append(_("Row %(n)d: no such agent.") % {"n": n})
                continue
            if not agent.can_chat:
                errors.append(
                    _("Row %(n)d: that account does not receive buyers (chat permission).")
                    % {"n": n}
                )
                continue
        if row.group is not None and row.group not in groups:
            errors.append(_("Row %(n)d: no such group.") % {"n": n})
            continue
        count = 1 if row.agent is None and row.count is None else (row.count or 1)
        added += count if row.agent is None else 0
        shifts.append(
            fc.Shift(
                start=row.start,
                end=row.end,
                agent=row.agent,
                count=count,
                max_concurrent=row.max_concurrent,
                group=row.group,
            )
        )
    if added > MAX_ROSTER_AGENTS:
        errors.append(_("A roster adds at most %(n)d agents in all.") % {"n": MAX_ROSTER_AGENTS})
    if errors:
        raise InvalidFields({"roster": errors})
    return shifts


def forecast_run(
    *, shop_id: int, spec: ForecastSpec, now: datetime | None = None
) -> ForecastAnswer:
    """SPEC G4: the forecast of ``spec`` for the shop, per 15 minutes, with the suggestion when
    asked. Raises ``InvalidFields`` for what only the shop can tell (a day in the future, an
    unknown agent or group, a missing roster)."""
    started = time.perf_counter()
    now = now or timezone.now()
    rng = random.Random(spec.seed)  # noqa: S311 (a reproducible simulation, not a secret)
    settings_zone = zoneinfo.ZoneInfo(_time_zone(shop_id))
    today = now.astimezone(settings_zone).date()
    errors: dict[str, list[str]] = {}
    if spec.date is not None and spec.date > today:
        errors["date"] = [_("A recorded day cannot be in the future.")]
    handling_day = spec.handling.date if spec.handling and spec.handling.date else spec.date
    if spec.handling and spec.handling.date and spec.handling.date > today:
        errors["handling"] = [_("A recorded day cannot be in the future.")]
    if (
        spec.curve is not None
        and spec.handling is not None
        and spec.handling.distribution == RECORDED
        and handling_day is None
    ):
        errors["handling"] = [_("Recorded handling times need a recorded day (date).")]
    if spec.roster is None and spec.date is None and not spec.suggest:
        errors["roster"] = [
            _("Give a roster, a recorded day to take it from, or ask for a suggestion.")
        ]
    if errors:
        raise InvalidFields(errors)

    day = _Day.of(spec.date or today, settings_zone)
    shop, settings = _shop_model(shop_id, now, day)
    average = fc.Handling(mean=float(settings.avg_handling_seconds))  # C5's average
    chosen = _handling_model(spec.handling)
    recorded: _Recorded | None = None
    if spec.curve is None:
        assert spec.date is not None
        recorded = _read_recorded(shop_id, day, now, rng, average)
        arrivals = recorded.arrivals
        if chosen is not None:
            arrivals = [replace(a, handling=max(1.0, chosen.sample(rng))) for a in arrivals]
        source_arrivals = RECORDED
    else:
        if chosen is None:  # the recorded day's handling times, else the shop's average
            chosen = average
            if handling_day is not None:
                other = _Day.of(handling_day, settings_zone)
                times = _read_recorded(shop_id, other, now, rng, average).handling
                if times:
                    chosen = fc.Handling(fc.Distribution.EMPIRICAL, values=tuple(times))
        patience = spec.handling.patience_seconds if spec.handling else None
        arrivals = fc.generate_arrivals(
            spec.curve, chosen, rng, day_seconds=day.seconds, patience=patience
        )
        source_arrivals = "curve"
    if len(arrivals) > MAX_ARRIVALS:
        raise InvalidFields({"curve": [_("At most %(n)d buyers a day.") % {"n": MAX_ARRIVALS}]})
    if spec.suggest and len(arrivals) > MAX_SUGGEST_ARRIVALS:
        raise InvalidFields(
            {
                "suggest": [
                    _("A suggestion searches days of at most %(n)d buyers.")
                    % {"n": MAX_SUGGEST_ARRIVALS}
                ]
            }
        )
    shop = replace(shop, reply_seconds=_reply_seconds(spec.handling, recorded))
    shifts = _shifts(shop, spec.roster) if spec.roster is not None else None  # checked first

    suggestion: fc.Suggestion | None = None
    if spec.suggest:
        suggestion = fc.suggest(
            shop,
            arrivals,
            day_start=day.start,
            day_seconds=day.seconds,
            target=spec.target_rate,
            max_concurrent=spec.suggest_max_concurrent,
        )
    if shifts is not None:
        roster = fc.compile_roster(shop, shifts, day.seconds)
        source_roster = "given"
        result = fc.simulate(shop, arrivals, roster, day_start=day.start, day_seconds=day.seconds)
    elif spec.date is not None:
        roster = _recorded_roster(shop, shop_id, day)
        source_roster = RECORDED
        result = fc.simulate(shop, arrivals, roster, day_start=day.start, day_seconds=day.seconds)
    else:
        assert suggestion is not None
        source_roster = "suggested"
        result = suggestion.forecast
    replayed = recorded if source_arrivals == RECORDED else None
    answer: ForecastAnswer = {
        "date": day.day.isoformat(),
        "time_zone": str(settings_zone),
        "inputs": {
            "arrivals": source_arrivals,
            "roster": source_roster,
            "handling": _handling_data(chosen),
        },
        "buckets": _buckets(result, day, replayed),
        "summary": _summary(result, spec.target_rate, replayed),
        "suggestion": _suggestion(suggestion, day) if suggestion is not None else None,
        "took_ms": 0,
    }
    answer["took_ms"] = round((time.perf_counter() - started) * 1000)
    return answer


def _time_zone(shop_id: int) -> str:
    return Shop.objects.values_list("time_zone", flat=True).get(pk=shop_id)


def _reply_seconds(spec: HandlingSpec | None, recorded: _Recorded | None) -> float:
    if spec is not None and spec.reply_seconds is not None:
        return float(spec.reply_seconds)
    if recorded is not None and recorded.reply_seconds is not None:
        return recorded.reply_seconds
    return float(DEFAULT_REPLY_SECONDS)


def _handling_data(chosen: fc.Handling | None) -> dict[str, Any]:
    """What the forecast drew handling times from (``recorded``: each replayed buyer's own, or
    the recorded day's times with their mean)."""
    if chosen is None:
        return {"distribution": RECORDED}
    if chosen.distribution == fc.Distribution.EMPIRICAL:
        mean = statistics.fmean(chosen.values) if chosen.values else None
        return {"distribution": RECORDED, "mean_seconds": round(mean) if mean else None}
    data: dict[str, Any] = {"distribution": chosen.distribution, "mean_seconds": round(chosen.mean)}
    if chosen.sd is not None:
        data["sd_seconds"] = round(chosen.sd)
    return data


# ---------------------------------------------------------------------------------------------
# The answer's shapes


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _ratio(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _buckets(result: fc.Forecast, day: _Day, recorded: _Recorded | None) -> list[BucketData]:
    rec_avg: list[float] = []
    rec_max: list[int] = []
    if recorded is not None:
        rec_avg, rec_max = fc.queue_curve(recorded.queued, day.seconds)
    out: list[BucketData] = []
    for b, bucket in enumerate(result.buckets):
        seen: RecordedData | None = None
        if recorded is not None:
            asked = recorded.requested[b]
            seen = {
                "queue_avg": round(rec_avg[b], 2),
                "queue_max": rec_max[b],
                "arrivals": asked,
                "rate_2min": _ratio(recorded.answered_2min[b] / asked if asked else None),
            }
        out.append(
            {
                "start": day.at(bucket.start),
                "arrivals": bucket.arrivals,
                "queue_avg": round(bucket.queue_avg, 2),
                "queue_max": bucket.queue_max,
                "wait_p50": _seconds(bucket.wait_p50),
                "wait_p90": _seconds(bucket.wait_p90),
                "rate_2min": _ratio(bucket.rate_2min),
                "answered_2min": bucket.answered_2min,
                "load": _ratio(bucket.load, 3),
                "recorded": seen,
            }
        )
    return out


def hourly_rates(result: fc.Forecast) -> list[float | None]:
    """The 2-minute rate of each hour's buyers (None for an hour without any)."""
    per = fc.HOUR // fc.BUCKET_SECONDS
    rates: list[float | None] = []
    for h in range(0, len(result.buckets), per):
        chunk = result.buckets[h : h + per]
        asked = sum(b.arrivals for b in chunk)
        rates.append(sum(b.answered_2min for b in chunk) / asked if asked else None)
    return rates


def _summary(result: fc.Forecast, target: float, recorded: _Recorded | None) -> SummaryData:
    s = result.summary
    rates = [r for r in hourly_rates(result) if r is not None]
    replay: ReplayData | None = None
    if recorded is not None:
        rec_avg, rec_max = fc.queue_curve(
            recorded.queued, len(result.buckets) * float(fc.BUCKET_SECONDS)
        )
        errors = [abs(b.queue_avg - r) for b, r in zip(result.buckets, rec_avg, strict=False)]
        max_errors = [abs(b.queue_max - r) for b, r in zip(result.buckets, rec_max, strict=False)]
        asked = sum(recorded.requested)
        replay = {
            "queue_avg_mae": round(statistics.fmean(errors), 3) if errors else 0.0,
            "queue_avg_max_error": round(max(errors), 3) if errors else 0.0,
            "queue_max_mae": round(statistics.fmean(max_errors), 3) if max_errors else 0.0,
            "recorded_rate_2min": _ratio(sum(recorded.answered_2min) / asked if asked else None),
        }
    return {
        "arrivals": s.arrivals,
        "answered": s.answered,
        "answered_2min": s.answered_2min,
        "rate_2min": _ratio(s.rate_2min),
        "worst_hour_rate_2min": _ratio(min(rates)) if rates else None,
        "target_rate": target,
        "target_met": all(r >= target for r in rates),
        "left_queue": s.left_queue,
        "unanswered": s.unanswered,
        "wait_p50": _seconds(s.wait_p50),
        "wait_p90": _seconds(s.wait_p90),
        "queue_avg": round(s.queue_avg, 2),
        "queue_max": s.queue_max,
        "load": _ratio(s.load, 3),
        "agent_hours": round(s.agent_hours, 1),
        "replay": replay,
    }


def _suggestion(suggestion: fc.Suggestion, day: _Day) -> SuggestionData:
    roster = [
        {
            "count": shift.count,
            "from": hhmm(shift.start),
            "to": hhmm(shift.end),
            "max_concurrent": shift.max_concurrent,
            "group": shift.group,
        }
        for shift in suggestion.shifts
    ]
    hours: list[HourData] = [
        {
            "start": day.at(hour.start),
            "agents": [{"group": line, "count": count} for line, count in hour.agents],
            "arrivals": hour.arrivals,
            "rate_2min": _ratio(hour.rate_2min),
        }
        for hour in suggestion.hours
    ]
    return {
        "met": suggestion.met,
        "target_rate": suggestion.target,
        "staffed_hours": round(suggestion.staffed_hours, 1),
        "roster": roster,
        "hours": hours,
        "summary": _summary(suggestion.forecast, suggestion.target, None),
        "buckets": _buckets(suggestion.forecast, day, None),
    }
