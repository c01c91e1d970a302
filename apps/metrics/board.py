"""The live board (SPEC G2; API.md, ``GET /api/v1/monitor/`` and ``monitor.updated``).

``board_of`` reads it in one round trip plus four small queries (the routing snapshot: settings,
groups, agents with their effective max; the accounts' names; the groups' names; the waiting
buyers; today's conversation figures and the targets), outside any request transaction when
pushed. ``board_push`` is the coalescer's handler (``apps.core.coalesce``, registered in
``MetricsConfig.ready``): at most once a second per shop, after the changes that the event
catalogue marks (``events.monitor_changed``); it sends ``monitor.updated`` only when the board
reads differently from the last one it sent."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.conversations import events
from apps.conversations.events import MonitorAgent, MonitorData, MonitorGroup
from apps.conversations.models import Conversation, State
from apps.metrics.figures import Figures, conversation_figures
from apps.metrics.reports import all_met, judge, targets_of
from apps.routing import queue
from apps.routing.models import AgentStatus, Group
from apps.routing.snapshot import load_snapshot

STATUS_ORDER = {
    AgentStatus.ONLINE.value: 0,
    AgentStatus.PAUSED.value: 1,
    AgentStatus.OFFLINE.value: 2,
}
DIGEST_SECONDS = 600  # how long the last pushed board's digest is kept per shop


def _waited(since: datetime | None, now: datetime) -> int:
    return max(0, int((now - since).total_seconds())) if since is not None else 0


def board_of(shop_id: int, now: datetime) -> MonitorData:
    """The shop's board now."""
    snapshot = load_snapshot(shop_id, now)
    shop = snapshot.settings.shop
    zone = ZoneInfo(shop.time_zone)
    labels = {
        pk: display or name or shop.name
        for pk, display, name in Account.objects.filter(shop_id=shop_id).values_list(
            "pk", "display_name", "name"
        )
    }
    group_names = dict(Group.objects.filter(shop_id=shop_id).values_list("pk", "name"))
    waiting: list[tuple[list[int] | None, datetime | None]] = list(
        Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED).values_list(
            "candidate_ids", "queued_at"
        )
    )
    found = conversation_figures(shop_id, zone, snapshot.today, snapshot.today, now)
    targets = targets_of(shop_id)

    # Waiting buyers: the whole shop (id null), then each group: the buyers its members may
    # take (``queue.may_take``), as ``queue.changed`` counts them.
    def group_entry(
        group_id: int | None, rows: list[tuple[list[int] | None, datetime | None]]
    ) -> MonitorGroup:
        oldest = min((at for _ids, at in rows if at is not None), default=None)
        return {
            "id": group_id,
            "name": "" if group_id is None else group_names.get(group_id, ""),
            "waiting": len(rows),
            "longest_wait_seconds": _waited(oldest, now),
            "waiting_since": oldest.isoformat() if oldest is not None else None,
        }

    groups = [group_entry(None, waiting)]
    for group in snapshot.groups:
        members = snapshot.routing_members(group.id)
        mine = [(ids, at) for ids, at in waiting if queue.may_take(members, ids)]
        groups.append(group_entry(group.id, mine))

    today = Figures()
    for figures in found.values():
        today.add(figures)
    agents: list[MonitorAgent] = []
    for agent in sorted(
        (a for a in snapshot.agents if a.can_chat),
        key=lambda a: (STATUS_ORDER.get(a.status.value, 3), labels.get(a.id, ""), a.id),
    ):
        mine_today = found.get((snapshot.today, agent.id)) or Figures()
        agents.append(
            {
                "id": agent.id,
                "display_name": labels.get(agent.id, ""),
                "status": agent.status.value,
                "open_conversations": agent.open_count,
                "max_concurrent": agent.max_concurrent,
                "group": agent.group_id,
                "routing_enabled": agent.routing_enabled,
                "conversations_today": mine_today.conversations,
                "first_response_2min_rate": mine_today.first_response_2min_rate,
                "targets_met": all_met(judge(mine_today, targets)),
            }
        )
    return {
        "groups": groups,
        "agents": agents,
        "today": {
            "conversations": today.conversations,
            "answered": today.answered,
            "first_response_2min_rate": today.first_response_2min_rate,
            "avg_first_response_seconds": today.avg_first_response_seconds,
            "left_queue": today.left_queue,
            "ratings_count": today.ratings_count,
            "ratings_avg": today.ratings_avg,
            "date": snapshot.today.isoformat(),
            "first_responses_within_2min": today.within_2min,
            "targets_met": all_met(judge(today, targets)),
        },
        "generated_at": now.isoformat(),
        "targets": {
            "first_response_2min_rate": targets.first_response_2min_rate,
            "avg_first_response_seconds": targets.avg_first_response_seconds,
            "ratings_avg": targets.ratings_avg,
        },
    }


def digest(board: MonitorData) -> str:
    """What the board says, without the clock: the moment it was read and the waits that grow
    by the second (``waiting_since`` stays, so a new longest waiter still counts)."""
    stable = {
        **board,
        "generated_at": None,
        "groups": [{**g, "longest_wait_seconds": None} for g in board["groups"]],
    }
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


def _digest_key(shop_id: int) -> str:
    return f"metrics:board:{shop_id}"


def board_push(shop_id: int) -> bool:
    """The coalescer's handler: read the board and send ``monitor.updated`` when it reads
    differently from the last one sent for the shop (by any process). Returns whether it sent."""
    board = board_of(shop_id, timezone.now())
    mark = digest(board)
    if cache.get(_digest_key(shop_id)) == mark:
        return False
    with transaction.atomic():
        events.monitor_updated(shop_id, board)
    cache.set(_digest_key(shop_id), mark, DIGEST_SECONDS)
    return True


def forget_pushed(shop_id: int) -> None:
    """Forget the last board sent (the next push sends whatever it reads)."""
    cache.delete(_digest_key(shop_id))
