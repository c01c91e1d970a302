"""The engine's plain data, read under the shop's lock (DESIGN, routing decision).

``load_snapshot`` reads the shop's settings, groups and agents once; the lifecycle decides any
number of conversations against it and keeps it true after each write (``Snapshot.moved``), so
one locked pass needs one snapshot. The effective max concurrent (C1) is defined here once; who
receives buyers (A4) is ``models.receives_buyers``, read here as a column of the agents.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper

from apps.accounts.models import AccountKind
from apps.core.prepared import Prepared, Statement, run_together
from apps.routing import engine
from apps.routing.locking import lock_shop, lock_statement
from apps.routing.models import AgentState, Group, receives_buyers
from apps.shops.models import ShopSettings


def shop_today(time_zone: str, now: datetime) -> date:
    """The calendar day in the shop's time zone (SPEC D, "per day")."""
    return now.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def effective_max(own: int | None, group_max: int | None, shop_default: int) -> int:
    """C1: the account's own max, else its group's, else the shop's default."""
    return own or group_max or shop_default


def rules_of(settings: ShopSettings) -> engine.Settings:
    return engine.Settings(
        assignment_rule=engine.Rule(settings.assignment_rule),
        recent_contact_first=settings.recent_contact_first,
        buyer_chooses_agent=settings.buyer_chooses_agent,
        queue_mode=engine.QueueMode(settings.queue_mode),
        queue_groups=frozenset(int(g) for g in settings.queue_groups),
        reentry_window_seconds=settings.reentry_window_seconds,
        offline_routing=settings.offline_routing,
        offline_handling=engine.OfflineHandling(settings.offline_handling),
    )


def candidates_from(ids: Iterable[int] | None, group_ids: Iterable[int]) -> engine.Candidates:
    """Stored candidate columns (JSON lists) as the engine's ``Candidates``."""
    return engine.Candidates(
        None if ids is None else frozenset(int(i) for i in ids),
        frozenset(int(g) for g in group_ids),
    )


@dataclass
class Snapshot:
    settings: ShopSettings
    rules: engine.Settings
    agents: list[engine.Agent]
    groups: list[engine.Group]
    today: date

    @property
    def main_id(self) -> int | None:
        return next((a.id for a in self.agents if a.is_main), None)

    def agent(self, agent_id: int | None) -> engine.Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def members_of(self, group_id: int) -> frozenset[int]:
        return frozenset(a.id for a in self.agents if a.group_id == group_id)

    def routing_members(self, group_id: int) -> frozenset[int]:
        """The group's members that take part in routing and receive buyers: whose waiting
        buyers the group may take (``queue.may_take``)."""
        return frozenset(
            a.id for a in self.agents if a.group_id == group_id and a.routing_enabled and a.can_chat
        )

    @property
    def receiving(self) -> list[int]:
        """The accounts that receive buyers (A4), present or not."""
        return [a.id for a in self.agents if a.can_chat]

    @property
    def anyone_free(self) -> bool:
        return any(a.eligible and a.below_max for a in self.agents)

    @property
    def anyone_present(self) -> bool:
        """Anyone who can answer buyers is online or paused (``AgentState.objects
        .receiving_buyers(...).present()``, on the snapshot)."""
        return any(a.present for a in self.agents)

    def moved(
        self,
        agent_id: int,
        *,
        open_delta: int,
        wrr: dict[int, int] | None = None,
        assigned_at: datetime | None = None,
    ) -> None:
        """Keep the snapshot true after a write, for the next decision under the same lock."""
        wrr = wrr or {}
        agents = []
        for a in self.agents:
            if a.id == agent_id:
                a = replace(a, open_count=a.open_count + open_delta)
                if assigned_at is not None:
                    a = replace(a, last_assigned_at=assigned_at)
            if a.id in wrr:
                a = replace(a, wrr_current=wrr[a.id])
            agents.append(a)
        self.agents = agents


_AGENT_COLUMNS = (
    "account_id",
    "account__kind",
    "receives",
    "status",
    "routing_enabled",
    "group_id",
    "weight",
    "max_concurrent",
    "open_count",
    "wrr_current",
    "wrr_day",
    "last_assigned_at",
)


def _engine_groups(groups: Sequence[Group]) -> list[engine.Group]:
    return [
        engine.Group(
            id=g.pk,
            segments=frozenset(g.scope_segments),
            products=frozenset(g.scope_products),
            intents=frozenset(g.scope_intents),
            order_statuses=frozenset(g.scope_order_statuses),
        )
        for g in groups
    ]


# The snapshot's three queries, compiled once per process (apps.core.prepared): this runs under
# the shop's lock on every routing pass, where compiling them cost more CPU than running them.
SETTINGS: Prepared[ShopSettings] = Prepared(
    lambda shop_id: ShopSettings.objects.select_related("shop").filter(shop_id=shop_id),
    shop_id=int,
)
_GROUPS: Prepared[Group] = Prepared(
    lambda shop_id: Group.objects.filter(shop_id=shop_id).order_by("pk"), shop_id=int
)
_AGENTS: Prepared[AgentState] = Prepared(
    lambda shop_id: (
        AgentState.objects.filter(shop_id=shop_id)
        .annotate(receives=ExpressionWrapper(receives_buyers(shop_id), BooleanField()))
        .values_list(*_AGENT_COLUMNS)
        .order_by("account_id")
    ),
    shop_id=int,
)


def load_snapshot(shop_id: int, now: datetime) -> Snapshot:
    """Three queries in one round trip: settings, groups, the agents with their accounts and
    the chat permission."""
    return _snapshot_of(shop_id, run_together(_snapshot_reads(shop_id)), now)


def locked_snapshot(shop_id: int, now: datetime) -> Snapshot:
    """``lock_shop``, then ``load_snapshot``: one round trip (the reads run once the lock is
    held). Call inside a transaction."""
    return locked_reads(shop_id, now, [])[0]


def locked_reads(
    shop_id: int, now: datetime, also: Sequence[Statement]
) -> tuple[Snapshot, list[list[tuple[Any, ...]]]]:
    """``locked_snapshot`` and the rows of ``also``, more reads of the caller's under the same
    lock, all in one round trip on PostgreSQL (``run_together``; a routing pass reads its
    pending requests so). Call inside a transaction."""
    assert transaction.get_connection().in_atomic_block, "locked_reads() needs a transaction"
    reads = [*also, *_snapshot_reads(shop_id)]
    if connection.vendor == "postgresql":
        _lock, *rows = run_together([lock_statement(shop_id), *reads])
    else:  # SQLite: no advisory lock (it serializes writers itself), the reads one by one
        lock_shop(shop_id)
        rows = run_together(reads)
    return _snapshot_of(shop_id, rows[len(also) :], now), rows[: len(also)]


def _snapshot_reads(shop_id: int) -> list[Statement]:
    return [
        SETTINGS.statement(shop_id=shop_id),
        _GROUPS.statement(shop_id=shop_id),
        _AGENTS.statement(shop_id=shop_id),
    ]


def _snapshot_of(
    shop_id: int, fetched: Sequence[Sequence[Sequence[Any]]], now: datetime
) -> Snapshot:
    """The snapshot from the rows of ``_snapshot_reads``. The agents are read as plain rows (no
    model instances: this runs under the shop's lock for every routing pass, and building fifty
    accounts cost more than the query)."""
    settings_rows, group_rows, agent_rows = fetched
    settings = SETTINGS.first_of(settings_rows)
    if settings is None:
        raise ShopSettings.DoesNotExist(f"no settings for shop {shop_id}")
    today = shop_today(settings.shop.time_zone, now)
    groups = _GROUPS.all_of(group_rows)
    group_max = {g.pk: g.max_concurrent for g in groups}
    rows = _AGENTS.rows_of(agent_rows)
    agents = []
    for (
        account_id,
        kind,
        receives,
        status,
        routing_enabled,
        group_id,
        weight,
        own_max,
        open_count,
        wrr_current,
        wrr_day,
        last_assigned_at,
    ) in rows:
        is_main = kind == AccountKind.MAIN
        agents.append(
            engine.Agent(
                id=account_id,
                is_main=is_main,
                status=engine.Status(status),
                routing_enabled=routing_enabled,
                can_chat=receives,
                group_id=group_id,
                weight=weight,
                max_concurrent=effective_max(
                    own_max,
                    group_max.get(group_id) if group_id else None,
                    settings.default_max_concurrent,
                ),
                open_count=open_count,
                # B5 even: the state resets at midnight shop time.
                wrr_current=wrr_current if wrr_day == today else 0,
                last_assigned_at=last_assigned_at,
            )
        )
    return Snapshot(
        settings=settings,
        rules=rules_of(settings),
        agents=agents,
        groups=_engine_groups(groups),
        today=today,
    )
