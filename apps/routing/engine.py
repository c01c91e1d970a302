"""The routing decision (SPEC B4-B11, C1-C6): pure code over plain data, no ORM, no clock.

``decide`` takes one buyer's request, the shop's agents and groups, the routing settings and the
time, and returns what should happen: assign to an agent, queue, pool, or fall back to the main
account. Each SPEC rule is a small named step, applied in the order of precedence of DESIGN.md:

    private contact (B8) > re-entry window (C6) > buyer's choice (B7) > recent contact (B6)
    > scope (B4) > widening when all candidates are offline (B9b)
    > assignment rule among eligible candidates below max (B5, C1, C2)
    > paused main account when every sub-account is offline (B10)
    > queue while any candidate is online or paused (C3) > offline handling (B11)

``pick`` is the assignment rule alone; ``dispatch`` hands queued and pooled conversations to free
agents (C3, B11 auto-assign). The lifecycle (``apps.conversations.lifecycle``) takes the shop's
lock, loads the snapshot (``apps.routing.snapshot``), calls these functions and writes the outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    ONLINE = "online"
    PAUSED = "paused"
    OFFLINE = "offline"


class Rule(StrEnum):
    CAPACITY = "capacity"
    EVEN = "even"


class QueueMode(StrEnum):
    OFF = "off"
    SHOP = "shop"
    GROUPS = "groups"


class OfflineHandling(StrEnum):
    MAIN_ACCOUNT = "main_account"
    POOL = "pool"


# Reasons an assignment was made; stored on the conversation and shown to staff.
class Reason(StrEnum):
    PRIVATE_CONTACT = "private_contact"  # B8
    REENTRY = "reentry"  # C6
    BUYER_CHOICE = "buyer_choice"  # B7
    RECENT_CONTACT = "recent_contact"  # B6
    RULE = "rule"  # B5
    MAIN_PAUSED = "main_paused"  # B10
    OFFLINE_MAIN = "offline_main"  # B11 main_account
    TRANSFER = "transfer"  # B12
    QUEUE = "queue"  # C3 dispatch
    POOL = "pool"  # B11 auto-assign


@dataclass(frozen=True)
class Agent:
    """One account as routing sees it."""

    id: int
    is_main: bool
    status: Status
    routing_enabled: bool  # B1: takes part in routing
    can_chat: bool  # active account with the chat permission (A4)
    group_id: int | None
    weight: int
    max_concurrent: int  # effective: own > group > shop (C1)
    open_count: int
    wrr_current: int = 0
    last_assigned_at: datetime | None = None

    @property
    def present(self) -> bool:
        """Online or paused: can keep and get back its buyers (B6, B7, B10, C3, C6)."""
        return self.can_chat and self.status in (Status.ONLINE, Status.PAUSED)

    @property
    def eligible(self) -> bool:
        """SPEC vocabulary: online, not paused, takes part in routing, chat permission, active."""
        return self.can_chat and self.routing_enabled and self.status == Status.ONLINE

    @property
    def below_max(self) -> bool:
        return self.open_count < self.max_concurrent

    @property
    def load(self) -> float:
        return self.open_count / self.max_concurrent if self.max_concurrent else float("inf")


@dataclass(frozen=True)
class Group:
    id: int
    segments: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    intents: frozenset[str] = frozenset()
    order_statuses: frozenset[str] = frozenset()

    @property
    def has_scope(self) -> bool:
        return bool(self.segments or self.products or self.intents or self.order_statuses)


@dataclass(frozen=True)
class Settings:
    assignment_rule: Rule = Rule.CAPACITY
    recent_contact_first: bool = False
    buyer_chooses_agent: bool = False
    queue_mode: QueueMode = QueueMode.SHOP
    queue_groups: frozenset[int] = frozenset()
    reentry_window_seconds: int = 600
    offline_routing: bool = True
    offline_handling: OfflineHandling = OfflineHandling.MAIN_ACCOUNT


@dataclass(frozen=True)
class Request:
    """A buyer asking for a human (or a conversation being re-routed)."""

    segments: frozenset[str] = frozenset()
    product: str | None = None  # external id of the entrance's product
    product_category: str | None = None
    intent: str | None = None
    order_status: str = "none"  # status of the buyer's latest order in the shop
    private_contact: bool = False  # B8
    chosen_agent_id: int | None = None  # B7
    # The buyer's previous conversation (B6, C6).
    last_agent_id: int | None = None
    last_closed_at: datetime | None = None
    # Re-routing (B9a, D6): within the buyer's scope, never the agent it leaves; no personal
    # steps (B6, B7, C6) and no widening (B9b); a private contact stays (B8). A transfer to a
    # group (B12) names the candidates instead.
    reroute: bool = False
    candidate_ids: frozenset[int] | None = None
    candidate_group_ids: frozenset[int] = frozenset()
    exclude_agent_id: int | None = None
    transfer: bool = False  # B12 to a group: the candidates are the group's members
    left_queue: bool = False  # C5: a queued buyer who wrote leaves (B11)


@dataclass(frozen=True)
class Candidates:
    """Who may take a conversation: explicit agent ids, or ``None`` for every participant."""

    agent_ids: frozenset[int] | None
    group_ids: frozenset[int] = frozenset()

    def includes(self, agent: Agent) -> bool:
        return self.agent_ids is None or agent.id in self.agent_ids


@dataclass(frozen=True)
class Assign:
    agent_id: int
    reason: Reason
    over_max: bool  # assigned although the agent is at or past max concurrent (C1 exceptions)
    candidates: Candidates
    wrr: dict[int, int] = field(default_factory=dict)  # new smooth-WRR weights (B5 even)


@dataclass(frozen=True)
class Queue:
    candidates: Candidates
    note: str = ""


@dataclass(frozen=True)
class Pool:
    candidates: Candidates


@dataclass(frozen=True)
class Keep:
    """A re-routed conversation stays where it is (B8 private contact; B11 for the main
    account's own offline message)."""


@dataclass(frozen=True)
class Refuse:
    """A transfer to a group that nobody there can take now (B12)."""


Decision = Assign | Queue | Pool | Keep | Refuse


# ---------------------------------------------------------------------------------------------
# Scope (B4)


def _matches(group: Group, dimension: str, request: Request) -> bool:
    if dimension == "segments":
        return bool(group.segments & request.segments)
    if dimension == "products":
        wanted = set()
        if request.product:
            wanted.add(request.product)
        if request.product_category:
            wanted.add(f"{CATEGORY_PREFIX}{request.product_category}")
        return bool(group.products & wanted)
    if dimension == "intents":
        return request.intent is not None and request.intent in group.intents
    return request.order_status in group.order_statuses


DIMENSIONS = ("segments", "products", "intents", "order_statuses")  # precedence, B4
CATEGORY_PREFIX = "category:"  # a products scope entry naming a category (API.md, Groups)


def scope_candidates(
    request: Request, agents: Sequence[Agent], groups: Sequence[Group]
) -> Candidates:
    """B2, B4: the agents who may receive this buyer.

    Simple mode (no groups): every participating account. Regular mode: the groups matching on
    the highest-precedence dimension on which any group matches; else the groups with an empty
    scope; else every participating account.
    """
    participants = frozenset(a.id for a in agents if a.routing_enabled and a.can_chat)
    if not groups:
        return Candidates(participants)
    for dimension in DIMENSIONS:
        matching = frozenset(g.id for g in groups if _matches(g, dimension, request))
        if matching:
            return _members(matching, agents)
    open_groups = frozenset(g.id for g in groups if not g.has_scope)
    if open_groups:
        return _members(open_groups, agents)
    return Candidates(participants)


def _members(group_ids: frozenset[int], agents: Sequence[Agent]) -> Candidates:
    return Candidates(
        frozenset(
            a.id for a in agents if a.group_id in group_ids and a.routing_enabled and a.can_chat
        ),
        group_ids,
    )


# ---------------------------------------------------------------------------------------------
# Queue applicability (C2) and the assignment rule (B5)


def queue_applies(candidates: Candidates, settings: Settings, groups: Sequence[Group]) -> bool:
    """C2: off, the whole shop, or only the chosen groups (in simple mode `groups` means off)."""
    if settings.queue_mode == QueueMode.OFF:
        return False
    if settings.queue_mode == QueueMode.SHOP:
        return True
    if not groups:
        return False
    return bool(candidates.group_ids & settings.queue_groups)


def pick(
    pool: Sequence[Agent], settings: Settings, *, respect_max: bool
) -> tuple[Agent, dict[int, int]] | None:
    """B5 among ``pool`` (already filtered to eligible candidates); None when nobody fits.

    Returns the chosen agent and, for the even rule, the new smooth-WRR weights of the pool.
    """
    fits = [a for a in pool if a.below_max] if respect_max else list(pool)
    if not fits:
        return None
    if settings.assignment_rule == Rule.EVEN:
        return _smooth_wrr(fits)
    chosen = min(fits, key=_capacity_key)
    return chosen, {}


def _capacity_key(agent: Agent) -> tuple[float, int, float, int]:
    """Lowest load ratio; then higher weight; then longest since last assignment (never first);
    then lowest id."""
    waited = agent.last_assigned_at.timestamp() if agent.last_assigned_at else float("-inf")
    return (agent.load, -agent.weight, waited, agent.id)


def _smooth_wrr(fits: Sequence[Agent]) -> tuple[Agent, dict[int, int]]:
    """Smooth weighted round-robin (as nginx): add each weight, take the largest, subtract the
    total from the winner. Equal current weights go to the lowest id."""
    total = sum(a.weight for a in fits)
    current = {a.id: a.wrr_current + a.weight for a in fits}
    chosen = min(fits, key=lambda a: (-current[a.id], a.id))
    current[chosen.id] -= total
    return chosen, current


# ---------------------------------------------------------------------------------------------
# The decision: one named step per SPEC rule, folded in the order of precedence


@dataclass
class _Context:
    """What the steps share: the request and the shop, and the candidates as they narrow."""

    request: Request
    agents: list[Agent]  # without the agent a re-routed conversation leaves
    by_id: dict[int, Agent]
    main: Agent | None  # the main account, even when it is the one left
    groups: Sequence[Group]
    settings: Settings
    now: datetime
    rerouting: bool  # re-routing, or a transfer: no personal steps, no widening
    candidates: Candidates | None = None
    members: list[Agent] = field(default_factory=list)
    queue_scope: Candidates | None = None  # the buyer's own candidates, for C2 after widening
    widened: bool = False
    last: Agent | None = None  # the agent of the buyer's previous conversation
    in_window: bool = False  # C6

    @property
    def personal(self) -> bool:
        return not self.rerouting and self.candidates is None

    @property
    def queueing(self) -> bool:
        scope = self.queue_scope or self.candidates or Candidates(None)
        return queue_applies(scope, self.settings, self.groups)


Step = Callable[[_Context], "Decision | None"]


def _left_queue(ctx: _Context) -> Decision | None:
    """C5: a queued buyer who leaves after writing becomes an offline message (B11)."""
    if ctx.request.left_queue:
        return _offline_handling(ctx, Candidates(None))
    return None


def _private_contact(ctx: _Context) -> Decision | None:
    """B8: private contacts always go to the main account, whatever its status, and are never
    re-routed away from it (a transfer by hand is the main account's own choice)."""
    if not ctx.request.private_contact or ctx.main is None or ctx.request.transfer:
        return None
    if ctx.request.reroute:
        return Keep()
    return Assign(ctx.main.id, Reason.PRIVATE_CONTACT, not ctx.main.below_max, Candidates(None))


def _reentry(ctx: _Context) -> Decision | None:
    """C6: within the window the buyer goes back to the same agent, even past max; when that
    agent is offline, the candidates narrow to its group (then the assignment rule or the
    queue)."""
    request = ctx.request
    ctx.last = ctx.by_id.get(request.last_agent_id) if request.last_agent_id is not None else None
    ctx.in_window = (
        request.last_closed_at is not None
        and ctx.settings.reentry_window_seconds > 0
        and (ctx.now - request.last_closed_at).total_seconds() < ctx.settings.reentry_window_seconds
    )
    if not (ctx.in_window and request.last_agent_id is not None and not ctx.rerouting):
        return None
    last = ctx.last
    if last is not None and last.present:
        return Assign(last.id, Reason.REENTRY, not last.below_max, Candidates(None))
    if last is not None and last.group_id is not None:
        ctx.candidates = _members(frozenset({last.group_id}), ctx.agents)
    return None


def _buyer_choice(ctx: _Context) -> Decision | None:
    """B7: the buyer's chosen agent, online or paused and below max."""
    chosen_id = ctx.request.chosen_agent_id
    if not (ctx.settings.buyer_chooses_agent and chosen_id is not None and ctx.personal):
        return None
    chosen = ctx.by_id.get(chosen_id)
    if chosen is not None and chosen.present and chosen.below_max:
        return Assign(chosen.id, Reason.BUYER_CHOICE, False, Candidates(None))
    return None


def _recent_contact(ctx: _Context) -> Decision | None:
    """B6: the agent of the previous conversation first, outside the re-entry window."""
    last = ctx.last
    if (
        ctx.settings.recent_contact_first
        and not ctx.in_window
        and ctx.personal
        and last is not None
        and last.present
        and last.below_max
    ):
        return Assign(last.id, Reason.RECENT_CONTACT, False, Candidates(None))
    return None


def _scope(ctx: _Context) -> Decision | None:
    """B4: the candidates by reception scope, unless the request (or C6) named them."""
    request = ctx.request
    if ctx.candidates is None and request.candidate_ids is not None:
        ctx.candidates = Candidates(request.candidate_ids, request.candidate_group_ids)
    if ctx.candidates is None:
        ctx.candidates = scope_candidates(request, ctx.agents, ctx.groups)
    candidates = ctx.candidates
    members = [a for a in ctx.agents if candidates.includes(a) and a.can_chat]
    if candidates.agent_ids is None:
        members = [a for a in members if a.routing_enabled]
    ctx.members = members
    return None


def _widen(ctx: _Context) -> Decision | None:
    """B9b: a new conversation whose candidates are all offline widens to every participant.
    C1 still holds after widening (amended): the widened candidates take the buyer below max;
    the queue, if any, is the buyer's own group's (C2)."""
    if not ctx.settings.offline_routing or ctx.rerouting or any(a.present for a in ctx.members):
        return None
    widened = [a for a in ctx.agents if a.routing_enabled and a.can_chat]
    if any(a.present for a in widened):
        assert ctx.candidates is not None
        ctx.queue_scope = ctx.candidates
        ctx.candidates = Candidates(None, ctx.candidates.group_ids)
        ctx.members = widened
        ctx.widened = True
    return None


def _assignment_rule(ctx: _Context) -> Decision | None:
    """B5 with C1/C2: eligible candidates below max; max is ignored only where no queue applies
    to the buyer's own candidates (and never after widening)."""
    assert ctx.candidates is not None
    eligible = [a for a in ctx.members if a.eligible]
    picked = pick(eligible, ctx.settings, respect_max=ctx.queueing or ctx.widened)
    if picked is None:
        return None
    agent, wrr = picked
    reason = Reason.TRANSFER if ctx.request.transfer else Reason.RULE
    return Assign(agent.id, reason, not agent.below_max, ctx.candidates, wrr)


def _main_paused(ctx: _Context) -> Decision | None:
    """B10: every sub-account offline and the main account paused -> the main account."""
    main = ctx.main
    if (
        not ctx.request.transfer
        and main is not None
        and main.id != ctx.request.exclude_agent_id
        and main.status == Status.PAUSED
        and main.can_chat
        and all(a.status == Status.OFFLINE for a in ctx.agents if not a.is_main)
    ):
        assert ctx.candidates is not None
        return Assign(main.id, Reason.MAIN_PAUSED, not main.below_max, ctx.candidates)
    return None


def _queue(ctx: _Context) -> Decision | None:
    """C3: wait in the queue while any candidate is online or paused."""
    if ctx.queueing and any(a.present for a in ctx.members):
        assert ctx.candidates is not None
        return Queue(ctx.candidates)
    return None


def _offline(ctx: _Context) -> Decision:
    """B11: nobody can take it. A transfer is refused instead (the staff member is told)."""
    if ctx.request.transfer:
        return Refuse()
    assert ctx.candidates is not None
    return _offline_handling(ctx, ctx.candidates)


def _offline_handling(ctx: _Context, candidates: Candidates) -> Decision:
    main = ctx.main
    if ctx.settings.offline_handling == OfflineHandling.POOL or main is None:
        return Pool(candidates)
    if main.id == ctx.request.exclude_agent_id:
        return Keep()  # the main account's own offline message stays with it
    return Assign(main.id, Reason.OFFLINE_MAIN, not main.below_max, candidates)


# Precedence (DESIGN, routing decision). A new rule is a new step, in its place in this list.
STEPS: tuple[Step, ...] = (
    _left_queue,
    _private_contact,
    _reentry,
    _buyer_choice,
    _recent_contact,
    _scope,
    _widen,
    _assignment_rule,
    _main_paused,
    _queue,
)


def decide(
    request: Request,
    agents: Sequence[Agent],
    groups: Sequence[Group],
    settings: Settings,
    now: datetime,
) -> Decision:
    """The first step that decides, in order of precedence; else offline handling (B11)."""
    main = next((a for a in agents if a.is_main), None)
    if request.exclude_agent_id is not None:
        agents = [a for a in agents if a.id != request.exclude_agent_id]
    ctx = _Context(
        request=request,
        agents=list(agents),
        by_id={a.id: a for a in agents},
        main=main,
        groups=groups,
        settings=settings,
        now=now,
        rerouting=request.reroute or request.candidate_ids is not None,
    )
    for step in STEPS:
        decision = step(ctx)
        if decision is not None:
            return decision
    return _offline(ctx)


# ---------------------------------------------------------------------------------------------
# Dispatch (C3, B11 auto-assign)


@dataclass(frozen=True)
class Waiting:
    """A queued or pooled conversation as dispatch sees it, already in queue order."""

    id: int
    candidates: Candidates


def dispatch(
    waiting: Iterable[Waiting], agents: Sequence[Agent], settings: Settings
) -> tuple[list[tuple[int, Assign]], list[Agent]]:
    """Hand waiting conversations, in order, to eligible candidates below max.

    Returns the assignments made and the agents with their loads after them. A conversation no
    eligible candidate can take is skipped; the next one may still fit another agent.
    """
    state = {a.id: a for a in agents}
    made: list[tuple[int, Assign]] = []
    for item in waiting:
        pool = [
            a for a in state.values() if a.eligible and item.candidates.includes(a) and a.below_max
        ]
        if not any(a.below_max and a.eligible for a in state.values()):
            break  # nobody free anywhere: stop early
        picked = pick(pool, settings, respect_max=True)
        if picked is None:
            continue
        agent, wrr = picked
        made.append((item.id, Assign(agent.id, Reason.QUEUE, False, item.candidates, wrr)))
        state[agent.id] = replace(agent, open_count=agent.open_count + 1)
        for agent_id, current in wrr.items():
            state[agent_id] = replace(state[agent_id], wrr_current=current)
    return made, list(state.values())
