"""Writes of the metrics app: the daily rows (the beat job, SPEC G3) and the shop's targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations import events
from apps.conversations.models import Conversation
from apps.core.errors import InvalidFields, InvalidInput
from apps.metrics.figures import SHOP, day_start, days, figures_of, queue_figures
from apps.metrics.models import DailyMetrics, DailyQueueMetrics, Targets
from apps.metrics.reports import TARGET_FIELDS
from apps.routing.models import StatusChange
from apps.shops.models import Shop

logger = logging.getLogger(__name__)

ONE_DAY = timedelta(days=1)
BACKFILL_DAYS = 400  # how far back a shop's first run of the job goes
SETTLE_DAYS = 7  # a finished day is computed again for a week (late answers, ratings, closes)
RECOMPUTE_AFTER = timedelta(hours=1)  # ... at most once an hour


@dataclass(frozen=True)
class Aggregated:
    shops: int
    days: int


def days_to_aggregate(shop: Shop, now: datetime) -> list[date]:
    """The finished days of ``shop`` the job should (re)write now: those after the last one
    written (back to the shop's first activity, at most ``BACKFILL_DAYS``), and those of the last
    ``SETTLE_DAYS`` written more than ``RECOMPUTE_AFTER`` ago."""
    zone = ZoneInfo(shop.time_zone)
    yesterday = now.astimezone(zone).date() - ONE_DAY
    stored = DailyMetrics.objects.filter(shop_id=shop.pk, agent__isnull=True)
    last = stored.aggregate(last=Max("day"))["last"]
    if last is None:
        firsts = [
            Conversation.objects.filter(shop_id=shop.pk).aggregate(at=Min("human_requested_at"))[
                "at"
            ],
            StatusChange.objects.filter(shop_id=shop.pk).aggregate(at=Min("at"))["at"],
        ]
        known = [at.astimezone(zone).date() for at in firsts if at is not None]
        first = max(min(known, default=yesterday), yesterday - timedelta(days=BACKFILL_DAYS))
    else:
        first = last + ONE_DAY
    wanted = set(days(first, yesterday))
    settle_from = yesterday - timedelta(days=SETTLE_DAYS - 1)
    stale = stored.filter(
        day__gte=settle_from, day__lte=yesterday, computed_at__lt=now - RECOMPUTE_AFTER
    ).values_list("day", flat=True)
    wanted.update(stale)
    return sorted(wanted)


def aggregate_days(*, shop: Shop, first: date, last: date, now: datetime) -> int:
    """(Re)write the daily rows of ``shop`` for ``first`` .. ``last`` (finished days) from the
    figures' definitions, in one transaction: the shop's row for every day, an agent's row for
    every day it had anything, the queue's rows likewise. Returns the days written."""
    zone = ZoneInfo(shop.time_zone)
    assert day_start(last + ONE_DAY, zone) <= now, "only finished days are stored"
    figures = figures_of(shop.pk, zone, first, last, now)
    queue = queue_figures(shop.pk, zone, first, last)
    agents = set(Account.objects.filter(shop_id=shop.pk).values_list("pk", flat=True))
    rows = [
        DailyMetrics(
            shop_id=shop.pk,
            day=day,
            agent_id=agent_id,
            conversations=f.conversations,
            answered=f.answered,
            within_2min=f.within_2min,
            rated=f.rated,
            first_response_seconds=f.first_response_seconds,
            handled=f.handled,
            handling_seconds=f.handling_seconds,
            ratings_count=f.ratings_count,
            ratings_sum=f.ratings_sum,
            left_queue=f.left_queue,
            online_seconds=f.online_seconds,
            paused_seconds=f.paused_seconds,
            reasons=f.reasons,
            computed_at=now,
        )
        for (day, agent_id), f in figures.items()
        if agent_id is SHOP or (not f.empty and agent_id in agents)
    ]
    queue_rows = [
        DailyQueueMetrics(
            shop_id=shop.pk,
            day=day,
            group_id=group_id,
            arrivals=q.arrivals,
            served=q.served,
            served_within_2min=q.served_within_2min,
            left_queue=q.left_queue,
            wait_seconds=q.wait_seconds,
            max_wait_seconds=q.max_wait_seconds,
            computed_at=now,
        )
        for (day, group_id), q in queue.items()
        if group_id is SHOP or q.arrivals
    ]
    with transaction.atomic():
        DailyMetrics.objects.filter(shop_id=shop.pk, day__gte=first, day__lte=last).delete()
        DailyQueueMetrics.objects.filter(shop_id=shop.pk, day__gte=first, day__lte=last).delete()
        DailyMetrics.objects.bulk_create(rows)
        DailyQueueMetrics.objects.bulk_create(queue_rows)
    return (last - first).days + 1


def aggregate_finished_days(*, now: datetime | None = None) -> Aggregated:
    """The beat job (``metrics.aggregate_days``): every shop's days that need writing, in runs of
    consecutive days. Idempotent: a run that overlaps another rewrites the same rows (a clash on
    the unique rows is logged and left to the next run)."""
    now = now or timezone.now()
    shops = written = 0
    for shop in Shop.objects.order_by("pk"):
        wanted = days_to_aggregate(shop, now)
        if not wanted:
            continue
        shops += 1
        run_first = previous = wanted[0]
        for day in [*wanted[1:], None]:
            if day is not None and day == previous + ONE_DAY:
                previous = day
                continue
            try:
                written += aggregate_days(shop=shop, first=run_first, last=previous, now=now)
            except IntegrityError:
                logger.warning("metrics of shop %s: another run wrote them meanwhile", shop.pk)
            if day is not None:
                run_first = previous = day
    return Aggregated(shops=shops, days=written)


def targets_update(*, actor: Account, changes: dict[str, Any]) -> Targets:
    """Set the shop's targets (any of ``TARGET_FIELDS``; null: no target). Bad values raise
    ``InvalidFields`` and change nothing. The entry points check the permission."""
    unknown = sorted(set(changes) - set(TARGET_FIELDS))
    if unknown:
        raise InvalidInput(_("Unknown targets: %(names)s") % {"names": ", ".join(unknown)})
    with transaction.atomic():
        targets, _created = Targets.objects.select_for_update().get_or_create(shop_id=actor.shop_id)
        for name, value in changes.items():
            setattr(targets, name, value)
        try:
            targets.full_clean(exclude=["shop"])
        except DjangoValidationError as error:
            raise InvalidFields(error.message_dict) from None
        targets.save()
        events.monitor_changed(actor.shop_id)  # G2: the board judges against them
    return targets
