"""The queue's order (C4) and its figures (C5), computed in one pass over the waiting buyers.

Position = the waiting buyers ahead whose candidates overlap this buyer's, plus one; estimate =
ceil(position x average handling time / S), S = the summed max concurrent of the buyer's online
and paused candidates. Hidden when S = 0, past 50 or past 30 minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.routing import engine
from apps.routing.models import AgentState
from apps.routing.snapshot import effective_max
from apps.shops.models import ShopSettings

FIGURES_HIDDEN_POSITION = 50  # SPEC C5
FIGURES_HIDDEN_SECONDS = 30 * 60


@dataclass(frozen=True)
class QueueFigures:
    position: int
    eta_seconds: int | None
    hidden: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": None if self.hidden else self.position,
            "eta_seconds": None if self.hidden else self.eta_seconds,
            "hidden": self.hidden,
        }


def may_take(members: frozenset[int], candidate_ids: Iterable[int] | None) -> bool:
    """Whether a group whose routing members are ``members`` (``Snapshot.routing_members``) may
    take a waiting buyer: one of its candidates is a member, or it has no list (any
    participant). How ``queue.changed`` and the live board count a group's waiting buyers."""
    return candidate_ids is None or not members.isdisjoint(candidate_ids)


def queue_order(shop_queue_order: str) -> tuple[str, ...]:
    """C4 with the front-of-queue priority of B9a, D6 and B12 (the conversation's columns)."""
    if shop_queue_order == "newest_first":
        return ("-queue_priority", "-queued_at", "-id")
    return ("-queue_priority", "queued_at", "id")


@dataclass(frozen=True)
class Capacity:
    """The max concurrent of every present account that receives buyers, and which of them
    take part in routing (the candidates of a conversation with no explicit list)."""

    of: dict[int, int]
    participants: frozenset[int]


def capacity_of(agents: Sequence[engine.Agent]) -> Capacity:
    """``present_capacity`` from a routing snapshot's agents (no query): the same accounts, since
    ``engine.Agent.present`` is ``receiving_buyers().present()`` on plain data."""
    present = [a for a in agents if a.present]
    return Capacity(
        {a.id: a.max_concurrent for a in present},
        frozenset(a.id for a in present if a.routing_enabled),
    )


def present_capacity(settings: ShopSettings) -> Capacity:
    """One query: the present agents that receive buyers, with their groups."""
    capacity: dict[int, int] = {}
    participants: set[int] = set()
    present = AgentState.objects.receiving_buyers(settings.shop_id).present()
    for state in present.select_related("group"):
        capacity[state.account_id] = effective_max(
            state.max_concurrent,
            state.group.max_concurrent if state.group else None,
            settings.default_max_concurrent,
        )
        if state.routing_enabled:
            participants.add(state.account_id)
    return Capacity(capacity, frozenset(participants))


def figures(
    waiting: Sequence[tuple[int, Sequence[int] | None]],
    capacity: Capacity,
    avg_handling_seconds: int,
) -> dict[int, QueueFigures]:
    """C5 for ``waiting`` (conversation id and candidate ids, in queue order).

    One pass: buyers are counted per distinct candidate set, so the work is O(n x k) for k
    distinct sets (a shop's groups and scopes: a handful), not O(n^2)."""
    seen: dict[frozenset[int] | None, int] = {}
    overlaps: dict[tuple[frozenset[int] | None, frozenset[int] | None], bool] = {}
    totals: dict[frozenset[int] | None, int] = {}
    result: dict[int, QueueFigures] = {}
    keys: dict[tuple[int, ...], frozenset[int]] = {}  # buyers of one group share their set
    for pk, ids in waiting:
        key = None
        if ids is not None:
            as_tuple = tuple(ids)
            key = keys.get(as_tuple)
            if key is None:
                key = keys[as_tuple] = frozenset(int(i) for i in as_tuple)
        ahead = 0
        for other, count in seen.items():
            pair = (other, key)
            if pair not in overlaps:
                overlaps[pair] = other is None or key is None or bool(other & key)
            if overlaps[pair]:
                ahead += count
        seen[key] = seen.get(key, 0) + 1
        position = ahead + 1
        if key not in totals:
            who = capacity.participants if key is None else key
            totals[key] = sum(capacity.of.get(agent_id, 0) for agent_id in who)
        total = totals[key]
        if total == 0:
            result[pk] = QueueFigures(position, None, True)
            continue
        eta = math.ceil(position * avg_handling_seconds / total)
        hidden = position > FIGURES_HIDDEN_POSITION or eta > FIGURES_HIDDEN_SECONDS
        result[pk] = QueueFigures(position, eta, hidden)
    return result
