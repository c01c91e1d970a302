"""Staffing forecast (SPEC G4): a day of buyers through the product's own routing engine, in
simulated time.

Pure code over plain data, like the engine it drives: no Django, no clock, no database (an
import-linter contract keeps it so). The caller (``apps.conversations.forecasting``) reads the
shop's settings, groups and agents once, as the routing snapshot builds them, and a recorded day
or an hourly curve; everything here then runs in memory.

The simulation is event-driven: a heap of timed events (a conversation ends, a buyer gives up
waiting, an agent's status changes) merged in time order with the day's arrivals; nothing
sleeps, and a day of 10,000 buyers takes about a second (``bench/forecast.py``). At each event it
does what the lifecycle does under the shop's lock (``apps.conversations.lifecycle``), through
the same functions of ``apps.routing.engine``:

- a buyer asks for a human: ``engine.decide`` (B4-B11, C1-C6) with the buyer's request and the
  agents as they are at that instant; the decision is applied as ``outcomes.apply_decision``
  does (assign: the load, the last assignment and the even rule's weights move; queue, with the
  queue order of C4 and the front-of-queue priority of B9a; pool);
- a conversation ends: the agent's slot frees and ``dispatch`` hands it on (C3: the queue in
  order, then the pool oldest first when auto-assign is on), with ``engine.dispatch``;
- an agent goes online, pauses or goes offline: as ``agents.agent_set_status`` (going online
  resets the even rule's weight, B5; going offline re-routes what it holds, B9a, when offline
  routing is on, and decides again the queued buyers it leaves without a present candidate, C3);
  the end of a roster's shift pauses the agent, lets it finish and then takes it offline (C7).

What it predicts per 15 minutes (``Bucket``): buyers asking for a human, the queue's length
(time average and maximum), the wait until the first response (p50, p90; the welcome on
assignment is the first response, D1), the 2-minute rate (first response within 120 s of asking,
queue time included; a buyer never answered is a failure, as in G3) and the agents' load (the
conversations held by online and paused agents over their summed max concurrent).

``suggest`` searches the smallest roster, hour by hour, that keeps the 2-minute rate of every
hour's buyers at or above a target. docs/forecast.md says what the simulation leaves out.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import math
import random
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from apps.routing import engine

Line = int | None  # a staffing line: a group's agents, or (None) agents in no group
BUCKET_SECONDS = 15 * 60
HOUR = 3600
TWO_MINUTES = 120  # SPEC G3: the 2-minute first-response rule
# Agents a roster row adds (``Shift.count``) get ids from here on, past any account's id.
SYNTHETIC_BASE = 10**12
SYNTHETIC_WEIGHT = 10  # B3's default weight
NAN = float("nan")


class Distribution:
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    FIXED = "fixed"
    EMPIRICAL = "empirical"


@dataclass(frozen=True)
class Handling:
    """How long an agent takes with a buyer, from the assignment to the end (seconds)."""

    distribution: str = Distribution.EXPONENTIAL
    mean: float = 600.0
    sd: float | None = None  # lognormal only
    values: tuple[float, ...] = ()  # empirical: the recorded handling times

    def sample(self, rng: random.Random) -> float:
        if self.distribution == Distribution.EMPIRICAL and self.values:
            return rng.choice(self.values)
        if self.distribution == Distribution.FIXED:
            return self.mean
        if self.distribution == Distribution.LOGNORMAL:
            sd = self.sd if self.sd is not None else self.mean
            sigma2 = math.log(1 + (sd / self.mean) ** 2)
            return rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))
        return rng.expovariate(1 / self.mean)


@dataclass(frozen=True)
class ShopModel:
    """The shop's routing configuration, as ``apps.routing.snapshot`` reads it."""

    agents: tuple[engine.Agent, ...]  # in id order, their effective max (C1); status ignored
    groups: tuple[engine.Group, ...]
    rules: engine.Settings
    queue_order: str = "wait_first"  # C4
    pool_auto_assign: bool = True  # B11
    welcome: bool = True  # D1: the welcome on assignment is the first response
    reply_seconds: float = 30.0  # without the welcome: assignment to the agent's first message
    default_max: int = 5  # C1, the shop's default
    group_max: tuple[tuple[int, int | None], ...] = ()  # C1, each group's own default

    def max_for_group(self, group_id: int | None) -> int:
        own = dict(self.group_max).get(group_id) if group_id is not None else None
        return own or self.default_max


@dataclass(frozen=True)
class Arrival:
    """A buyer asking for a human."""

    at: float  # seconds since the day's start
    handling: float  # seconds from the assignment to the end
    request: engine.Request = field(default_factory=engine.Request)
    buyer: int | None = None  # the same buyer again: re-entry and recent contact (C6, B6)
    patience: float | None = None  # leaves the queue after waiting this long (C5); None: never


@dataclass(frozen=True)
class Change:
    """An agent's status changes at ``at``; ``status`` None is the end of a shift (C7: pause,
    finish the open conversations, then go offline)."""

    at: float
    agent: int
    status: engine.Status | None


@dataclass(frozen=True)
class Roster:
    """Every agent of the simulation (offline until a change says otherwise) and the day's
    status changes in time order."""

    agents: tuple[engine.Agent, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Shift:
    """A roster row: an account of the shop (``agent``) or ``count`` agents more, online from
    ``start`` to ``end`` (seconds since the day's start)."""

    start: float
    end: float
    agent: int | None = None
    count: int = 1
    max_concurrent: int | None = None  # None: the account's effective max (C1)
    group: int | None = None  # for added agents: their group (B3)


@dataclass(frozen=True)
class Bucket:
    start: float  # seconds since the day's start
    arrivals: int
    queue_avg: float
    queue_max: int
    wait_p50: float | None
    wait_p90: float | None
    rate_2min: float | None
    answered_2min: int
    load: float | None


@dataclass(frozen=True)
class Summary:
    arrivals: int
    answered: int  # got a first response (at any time)
    answered_2min: int
    rate_2min: float | None
    left_queue: int  # gave up waiting (C5)
    unanswered: int  # never got a first response (left, or still waiting at the end)
    wait_p50: float | None
    wait_p90: float | None
    queue_avg: float
    queue_max: int
    load: float | None
    agent_hours: float  # online or paused agents, summed over the day
    decisions: int  # calls of engine.decide


@dataclass(frozen=True)
class Forecast:
    buckets: tuple[Bucket, ...]
    summary: Summary


# ---------------------------------------------------------------------------------------------
# Rosters


def synthetic_agent(agent_id: int, max_concurrent: int, group: int | None) -> engine.Agent:
    """An agent a roster adds: a sub-account with the chat permission taking part in routing."""
    return engine.Agent(
        id=agent_id,
        is_main=False,
        status=engine.Status.OFFLINE,
        routing_enabled=True,
        can_chat=True,
        group_id=group,
        weight=SYNTHETIC_WEIGHT,
        max_concurrent=max_concurrent,
        open_count=0,
    )


def _offline(agent: engine.Agent) -> engine.Agent:
    return replace(agent, status=engine.Status.OFFLINE, open_count=0, wrr_current=0)


def compile_roster(shop: ShopModel, shifts: Sequence[Shift], day_seconds: float) -> Roster:
    """The shop's accounts (offline unless a shift names them) and the agents counted rows
    add, with their status changes. An account's shifts are merged where they overlap or meet.
    Counted rows share their agents the way a manager means them ("5 agents from 09:00 to
    10:00, 7 from 10:00 to 11:00": the 5 go on, 2 join): an added agent works any later row
    of the same group and max that does not overlap its shifts, one who goes on at that very
    instant first, so that a roster written hour by hour is the same people going on, not new
    ones every hour."""
    agents = {a.id: _offline(a) for a in shop.agents}
    intervals: dict[int, list[tuple[float, float]]] = {}
    kinds: dict[tuple[Line, int], list[int]] = {}  # added agents by (group, max), in id order
    next_id = SYNTHETIC_BASE
    counted: list[tuple[float, float, Shift]] = []
    for shift in shifts:
        start, end = max(0.0, shift.start), min(day_seconds, shift.end)
        if end <= start:
            continue
        if shift.agent is None:
            counted.append((start, end, shift))
            continue
        known = agents.get(shift.agent)
        if known is None:
            raise ValueError(f"no agent {shift.agent} in the shop")
        if shift.max_concurrent:
            agents[shift.agent] = replace(known, max_concurrent=shift.max_concurrent)
        intervals.setdefault(shift.agent, []).append((start, end))
    for start, end, shift in sorted(counted, key=lambda c: c[0]):  # stable: rows' order
        most = shift.max_concurrent or shop.max_for_group(shift.group)
        kind = kinds.setdefault((shift.group, most), [])
        free = [a for a in kind if intervals[a][-1][1] <= start]
        free.sort(key=lambda a: (intervals[a][-1][1] != start, a))  # going on first
        for agent_id in free[: shift.count]:
            intervals[agent_id].append((start, end))
        for _n in range(shift.count - min(len(free), shift.count)):
            agents[next_id] = synthetic_agent(next_id, most, shift.group)
            intervals[next_id] = [(start, end)]
            kind.append(next_id)
            next_id += 1
    changes: list[tuple[float, int, int, Change]] = []
    for agent_id, spans in intervals.items():
        for start, end in _merged(spans):
            changes.append((start, 1, agent_id, Change(start, agent_id, engine.Status.ONLINE)))
            changes.append((end, 0, agent_id, Change(end, agent_id, None)))
    changes.sort(key=lambda c: c[:3])  # at one instant, shifts end before others start
    return Roster(
        agents=tuple(agents[k] for k in sorted(agents)),
        changes=tuple(c[3] for c in changes),
    )


def _merged(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# ---------------------------------------------------------------------------------------------
# Arrivals


def generate_arrivals(
    curve: Sequence[int],
    handling: Handling,
    rng: random.Random,
    *,
    day_seconds: float,
    patience: float | None = None,
) -> list[Arrival]:
    """``curve[h]`` buyers in hour ``h`` (from midnight), each at a uniformly random instant of
    its hour (a Poisson process, given its count), each a buyer of its own with no context (B4:
    the groups with an empty scope, else everyone). ``patience``: the mean of an exponential
    time after which a waiting buyer leaves the queue (None: nobody leaves)."""
    times: list[float] = []
    for hour, count in enumerate(curve):
        start = hour * HOUR
        if start >= day_seconds:
            break
        end = min(start + HOUR, day_seconds)
        times.extend(rng.uniform(start, end) for _n in range(count))
    times.sort()
    arrivals = []
    for at in times:
        handled = max(1.0, handling.sample(rng))
        waits = rng.expovariate(1 / patience) if patience else None
        arrivals.append(Arrival(at=at, handling=handled, patience=waits))
    return arrivals


# ---------------------------------------------------------------------------------------------
# Measuring


class _Step:
    """A step function of time (the queue's length, the agents' load) integrated per bucket,
    with each bucket's maximum."""

    __slots__ = ("area", "end", "peak", "since", "size", "value")

    def __init__(self, buckets: int, size: float) -> None:
        self.area = array("d", bytes(8 * buckets))
        self.peak = array("l", bytes(8 * buckets))
        self.size = size
        self.end = buckets * size
        self.value = 0
        self.since = 0.0

    def set(self, t: float, value: int) -> None:
        if value == self.value:
            return
        self.advance(t)
        self.value = value
        if t < self.end:
            b = int(t // self.size)
            if value > self.peak[b]:
                self.peak[b] = value

    def advance(self, t: float) -> None:
        t = min(t, self.end)
        s = self.since
        if t <= s:
            return
        v = self.value
        if v:
            size, area, peak = self.size, self.area, self.peak
            b = int(s // size)
            while s < t:
                edge = min((b + 1) * size, t)
                area[b] += v * (edge - s)
                if v > peak[b]:
                    peak[b] = v
                s = edge
                b += 1
        self.since = t


def bucket_count(day_seconds: float) -> int:
    return max(1, math.ceil(day_seconds / BUCKET_SECONDS))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def queue_curve(
    intervals: Iterable[tuple[float, float]], day_seconds: float
) -> tuple[list[float], list[int]]:
    """Per bucket, the time-average and the maximum of the number of buyers waiting, from each
    buyer's (queued from, queued until) in seconds since the day's start. The same measure as
    the simulation's, for a recorded day (``apps.conversations.forecasting``)."""
    n = bucket_count(day_seconds)
    steps: list[tuple[float, int]] = []
    for start, end in intervals:
        if end > start:
            steps.append((start, 1))
            steps.append((end, -1))
    steps.sort(key=lambda s: (s[0], s[1]))  # leaving before joining at one instant
    track = _Step(n, BUCKET_SECONDS)
    level = 0
    for t, delta in steps:
        level += delta
        track.set(max(0.0, t), level)
    track.advance(n * BUCKET_SECONDS)
    return [a / BUCKET_SECONDS for a in track.area], list(track.peak)


# ---------------------------------------------------------------------------------------------
# The simulation

_NEW, _QUEUED, _ACTIVE, _POOLED, _CLOSED, _LEFT = range(6)
_CLOSE, _STATUS, _LEAVE = range(3)  # at one instant: ends first, then status, then leaving


class _Conv:
    """One buyer's conversation in the simulation (``Conversation``'s routing columns)."""

    __slots__ = (
        "agent",
        "assigned_at",
        "candidates",
        "close_at",
        "i",
        "key",
        "priority",
        "queued_at",
        "reason",
        "remaining",
        "serving",
        "state",
        "version",
        "waiting",
    )

    def __init__(self, i: int, handling: float) -> None:
        self.i = i  # the arrival's index, also the conversation's id (ids follow creation)
        self.state = _NEW
        self.agent: int | None = None
        self.assigned_at = 0.0
        self.candidates = engine.Candidates(None)
        self.waiting = engine.Waiting(i, self.candidates)
        self.queued_at: float | None = None
        self.priority = 0
        self.key: tuple[float, ...] = ()
        self.reason: engine.Reason | None = None
        self.remaining = handling
        self.serving = False
        self.close_at = 0.0
        self.version = 0


class Simulation:
    """One day of the shop in simulated time. ``run`` processes events up to a time (or all of
    them); ``fork`` copies the state, so that ``suggest`` can try several rosters for the next
    hour from the same start."""

    def __init__(
        self,
        shop: ShopModel,
        arrivals: Sequence[Arrival],
        roster: Roster,
        *,
        day_start: datetime,
        day_seconds: float = 24 * HOUR,
    ) -> None:
        self.shop = shop
        self.arrivals = tuple(sorted(arrivals, key=lambda a: a.at))
        self.day_start = day_start
        self.day_seconds = day_seconds
        self.n_buckets = bucket_count(day_seconds)
        self.agents: list[engine.Agent] = []
        self.position: dict[int, int] = {}
        self.held: dict[int, dict[int, _Conv]] = {}  # the conversations each agent holds
        self.free = 0  # eligible agents below their max (``Snapshot.anyone_free``)
        self.queue: list[tuple[tuple[float, ...], _Conv]] = []  # in C4's order
        self.pool: list[_Conv] = []  # oldest first (B11)
        for agent in sorted(roster.agents, key=lambda a: a.id):
            self.add_agent(agent)
        self.t = 0.0
        self.next_arrival = 0
        self.heap: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.open: dict[int, _Conv] = {}
        self.draining: set[int] = set()
        self.buyers: dict[int, tuple[int, datetime]] = {}
        self.welcomed: set[int] = set()  # D1: a buyer is welcomed once a day
        self.decisions = 0
        n = len(self.arrivals)
        self.answered_at = array("d", [NAN]) * n
        self.left_at = array("d", [NAN]) * n
        self.queue_len = _Step(self.n_buckets, BUCKET_SECONDS)
        self.held_present = _Step(self.n_buckets, BUCKET_SECONDS)
        self.capacity_present = _Step(self.n_buckets, BUCKET_SECONDS)
        self.present_count = _Step(self.n_buckets, BUCKET_SECONDS)
        self.apply_changes(roster.changes)

    # -- agents ---------------------------------------------------------------------------------

    def add_agent(self, agent: engine.Agent) -> None:
        """An agent more (offline until a change). Ids increase: it goes at the end.

        Mid-day (``suggest``), the buyers waiting then get it among their candidates wherever
        B4 would have put it had it been there when they were decided (the shop's accounts all
        exist all day; only added agents can arrive late): every participant, or its group."""
        assert not self.agents or agent.id > self.agents[-1].id, "agents are added in id order"
        self.position[agent.id] = len(self.agents)
        self.agents.append(agent)
        self.held[agent.id] = {}
        self.free += agent.eligible and agent.below_max
        if not (agent.routing_enabled and agent.can_chat):
            return
        for conv in [c for _key, c in self.queue] + self.pool:
            candidates = conv.candidates
            ids = candidates.agent_ids
            if ids is None:
                continue
            if not candidates.group_ids or agent.group_id in candidates.group_ids:
                conv.candidates = engine.Candidates(ids | {agent.id}, candidates.group_ids)
                conv.waiting = engine.Waiting(conv.i, conv.candidates)

    def agent(self, agent_id: int) -> engine.Agent:
        return self.agents[self.position[agent_id]]

    def _put(self, new: engine.Agent, t: float) -> None:
        """Replace an agent, keeping the load measures true."""
        pos = self.position[new.id]
        old = self.agents[pos]
        self.agents[pos] = new
        self.free += (new.eligible and new.below_max) - (old.eligible and old.below_max)
        if old.present or new.present:
            held = self.held_present.value
            capacity = self.capacity_present.value
            count = self.present_count.value
            if old.present:
                held, capacity, count = (
                    held - old.open_count,
                    capacity - old.max_concurrent,
                    count - 1,
                )
            if new.present:
                held, capacity, count = (
                    held + new.open_count,
                    capacity + new.max_concurrent,
                    count + 1,
                )
            self.held_present.set(t, held)
            self.capacity_present.set(t, capacity)
            self.present_count.set(t, count)

    def apply_changes(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self._push(change.at, _STATUS, (change.agent, change.status, False))

    # -- the event loop -------------------------------------------------------------------------

    def _push(self, t: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, kind, self.seq, payload))

    def _now(self, t: float) -> datetime:
        return self.day_start + timedelta(seconds=t)

    def run(self, until: float | None = None) -> None:
        """Process every event up to ``until`` (all of them when None)."""
        arrivals, heap = self.arrivals, self.heap
        limit = math.inf if until is None else until
        while True:
            next_arrival = (
                arrivals[self.next_arrival].at if self.next_arrival < len(arrivals) else math.inf
            )
            next_event = heap[0][0] if heap else math.inf
            t = min(next_arrival, next_event)
            if t == math.inf or t > limit:
                break
            self.t = max(self.t, t)
            if next_event <= next_arrival:
                _at, kind, _seq, payload = heapq.heappop(heap)
                if kind == _CLOSE:
                    self._close(payload)  # type: ignore[arg-type]
                elif kind == _STATUS:
                    self._status(payload)  # type: ignore[arg-type]
                else:
                    self._leave(payload)  # type: ignore[arg-type]
            else:
                i = self.next_arrival
                self.next_arrival += 1
                self._arrive(i)
        if until is not None:
            self.t = max(self.t, until)

    def fork(self) -> Simulation:
        """A copy of the whole state; the arrivals and the shop are shared (immutable)."""
        memo: dict[int, object] = {id(self.shop): self.shop, id(self.arrivals): self.arrivals}
        memo[id(self.day_start)] = self.day_start
        for agent in self.agents:
            memo[id(agent)] = agent
        return copy.deepcopy(self, memo)

    # -- what buyers do -------------------------------------------------------------------------

    def _request(self, conv: _Conv) -> engine.Request:
        """The engine's view of the buyer now: its previous conversation, as the simulation
        closed it (``selectors.routing_request``)."""
        arrival = self.arrivals[conv.i]
        if arrival.buyer is not None:
            last = self.buyers.get(arrival.buyer)
            if last is not None:
                return replace(arrival.request, last_agent_id=last[0], last_closed_at=last[1])
        return arrival.request

    def _decide(self, request: engine.Request, t: float) -> engine.Decision:
        self.decisions += 1
        return engine.decide(request, self.agents, self.shop.groups, self.shop.rules, self._now(t))

    def _arrive(self, i: int) -> None:
        arrival = self.arrivals[i]
        t = arrival.at
        conv = _Conv(i, arrival.handling)
        self.open[i] = conv
        decision = self._decide(self._request(conv), t)
        self._apply(conv, decision, t, front=False)
        if conv.state == _QUEUED and arrival.patience is not None:
            self._push(t + arrival.patience, _LEAVE, conv)

    def _leave(self, conv: _Conv) -> None:
        """C5: a buyer still waiting gives up (it closes as ``buyer_left``)."""
        if conv.state != _QUEUED or not math.isnan(self.answered_at[conv.i]):
            return
        self._unqueue(conv, self.t)
        conv.state = _LEFT
        self.left_at[conv.i] = self.t
        del self.open[conv.i]

    def _close(self, payload: tuple[_Conv, int]) -> None:
        """The agent ends the conversation (``conversation_close``): the slot goes on (C3)."""
        conv, version = payload
        if conv.version != version or conv.state != _ACTIVE:
            return
        agent_id = conv.agent
        assert agent_id is not None
        self._release(conv, self.t)
        conv.state = _CLOSED
        del self.open[conv.i]
        buyer = self.arrivals[conv.i].buyer
        if buyer is not None:
            self.buyers[buyer] = (agent_id, self._now(self.t))
        self._dispatch(self.t)

    # -- applying decisions (``lifecycle.outcomes``) --------------------------------------------

    def _apply(self, conv: _Conv, decision: engine.Decision, t: float, *, front: bool) -> None:
        if isinstance(decision, engine.Assign):
            self._assign(conv, decision, t)
        elif isinstance(decision, engine.Queue):
            self._enqueue(conv, decision.candidates, t, front=front)
        elif isinstance(decision, engine.Pool):
            self._to_pool(conv, decision.candidates, t)
        # Keep: it stays where it is; Refuse is a transfer's, never a buyer's request.

    def _assign(self, conv: _Conv, decision: engine.Assign, t: float) -> None:
        if conv.state == _QUEUED:
            self._unqueue(conv, t)
        elif conv.state == _POOLED:
            self.pool.remove(conv)
        agent = self.agent(decision.agent_id)
        conv.state = _ACTIVE
        conv.agent = agent.id
        conv.reason = decision.reason
        conv.candidates = decision.candidates
        conv.assigned_at = t
        self._put(replace(agent, open_count=agent.open_count + 1, last_assigned_at=self._now(t)), t)
        for agent_id, current in decision.wrr.items():
            self._put(replace(self.agent(agent_id), wrr_current=current), t)
        self.held[agent.id][conv.i] = conv
        if agent.present:
            self._serve(conv, t, assigned=True)

    def _serve(self, conv: _Conv, t: float, *, assigned: bool = False) -> None:
        """The agent is there: the first response and the handling clock. The first response
        is the welcome (D1) when the conversation is assigned to an agent who is there and its
        buyer was not welcomed yet today, else the agent's first message ``reply_seconds``
        later."""
        if conv.serving:
            return
        if math.isnan(self.answered_at[conv.i]):
            buyer = self.arrivals[conv.i].buyer
            if assigned and self.shop.welcome and buyer not in self.welcomed:
                delay = 0.0
                if buyer is not None:
                    self.welcomed.add(buyer)
            else:
                delay = min(self.shop.reply_seconds, conv.remaining)
            self.answered_at[conv.i] = t + delay
        conv.serving = True
        conv.version += 1
        conv.close_at = t + conv.remaining
        self._push(conv.close_at, _CLOSE, (conv, conv.version))

    def _hold(self, conv: _Conv, t: float) -> None:
        """Its agent is gone: the handling clock stops until someone is there again."""
        if conv.serving:
            conv.remaining = max(0.0, conv.close_at - t)
            conv.serving = False
            conv.version += 1

    def _release(self, conv: _Conv, t: float) -> None:
        """The holder's load drops by one (``outcomes.release``); a draining agent with nothing
        left goes offline (C7)."""
        agent_id = conv.agent
        assert agent_id is not None
        agent = self.agent(agent_id)
        self._put(replace(agent, open_count=agent.open_count - 1), t)
        del self.held[agent_id][conv.i]
        conv.agent = None
        if agent_id in self.draining and not self.held[agent_id]:
            self._push(t, _STATUS, (agent_id, engine.Status.OFFLINE, True))

    def _queue_key(self, conv: _Conv) -> tuple[float, ...]:
        """C4 with the front-of-queue priority (``routing.queue.queue_order``)."""
        assert conv.queued_at is not None
        if self.shop.queue_order == "newest_first":
            return (-conv.priority, -conv.queued_at, -conv.i)
        return (-conv.priority, conv.queued_at, conv.i)

    def _enqueue(
        self, conv: _Conv, candidates: engine.Candidates, t: float, *, front: bool
    ) -> None:
        conv.state = _QUEUED
        conv.agent = None
        conv.priority = 1 if front else 0
        if conv.queued_at is None or front:
            conv.queued_at = t
        conv.candidates = candidates
        conv.waiting = engine.Waiting(conv.i, candidates)
        conv.key = self._queue_key(conv)
        bisect.insort(self.queue, (conv.key, conv))
        self.queue_len.set(t, len(self.queue))

    def _unqueue(self, conv: _Conv, t: float) -> None:
        at = bisect.bisect_left(self.queue, (conv.key,))
        assert self.queue[at][1] is conv
        del self.queue[at]
        conv.key = ()
        self.queue_len.set(t, len(self.queue))

    def _to_pool(self, conv: _Conv, candidates: engine.Candidates, t: float) -> None:
        if conv.state == _QUEUED:
            self._unqueue(conv, t)
        conv.state = _POOLED
        conv.agent = None
        conv.candidates = candidates
        conv.waiting = engine.Waiting(conv.i, candidates)
        self.pool.append(conv)

    def _dispatch(self, t: float) -> None:
        """``outcomes.dispatch``: the queue in order, then the pool when auto-assign is on."""
        if not self.free:
            return
        sources: list[list[_Conv] | None] = []
        if self.queue:
            sources.append(None)
        if self.pool and self.shop.pool_auto_assign:
            sources.append(self.pool)
        for source in sources:
            if not self.free:
                break
            waiting = self._could_take(source)
            made, _after = engine.dispatch(waiting, self.agents, self.shop.rules)
            for conv_id, decision in made:
                conv = self.open[conv_id]
                reason = engine.Reason.POOL if conv.state == _POOLED else engine.Reason.QUEUE
                self._assign(conv, replace(decision, reason=reason), t)

    def _could_take(self, source: list[_Conv] | None) -> Iterator[engine.Waiting]:
        """The waiting conversations in order, less those no free agent is a candidate of:
        ``engine.dispatch`` would skip them anyway (agents only fill up during a dispatch), and
        a long queue of one group is not walked again for every slot another group frees."""
        free = frozenset(a.id for a in self.agents if a.eligible and a.below_max)
        items = (c for _key, c in self.queue) if source is None else iter(list(source))
        for conv in items:
            ids = conv.candidates.agent_ids
            if ids is None or not free.isdisjoint(ids):
                yield conv.waiting

    # -- agents' status (``lifecycle.agents``) ---------------------------------------------------

    def _status(self, payload: tuple[int, engine.Status | None, bool]) -> None:
        agent_id, status, drained = payload
        t = self.t
        if drained:
            if agent_id not in self.draining or self.held[agent_id]:
                return  # a new shift began, or it took a buyer back (C6) meanwhile
            status = engine.Status.OFFLINE
        elif status is None:  # the end of a shift (C7): pause, finish, then offline
            if self.held[agent_id] and self.agent(agent_id).status != engine.Status.OFFLINE:
                self.draining.add(agent_id)
                status = engine.Status.PAUSED
            else:
                status = engine.Status.OFFLINE
        else:
            self.draining.discard(agent_id)
        self.set_status(agent_id, status, t)

    def set_status(self, agent_id: int, status: engine.Status, t: float) -> None:
        """``agent_set_status``: B5 (online starts the even rule from zero), B9a (offline
        re-routes what it holds), C3 (stranded buyers decided again; freed slots dispatched)."""
        agent = self.agent(agent_id)
        previous = agent.status
        if previous == status:
            return
        wrr = 0 if status == engine.Status.ONLINE else agent.wrr_current
        self._put(replace(agent, status=status, wrr_current=wrr), t)
        if status == engine.Status.OFFLINE:
            self.draining.discard(agent_id)
            if self.shop.rules.offline_routing:
                self._reroute_held(agent_id, t)
            for conv in self.held[agent_id].values():  # kept: offline messages (B9 off, B8)
                self._hold(conv, t)
            self._route_stranded(t)
        elif previous == engine.Status.OFFLINE:
            for conv in list(self.held[agent_id].values()):  # its offline messages
                self._serve(conv, t)
        self._dispatch(t)

    def _reroute_held(self, agent_id: int, t: float) -> None:
        """B9a (``outcomes.reroute``): within the buyer's scope, never back to the agent it
        leaves, at the front of the queue when nobody can take it now."""
        held = sorted(self.held[agent_id].values(), key=lambda c: (c.assigned_at, c.i))
        for conv in held:
            request = replace(
                self.arrivals[conv.i].request,
                reroute=True,
                exclude_agent_id=agent_id,
                private_contact=conv.reason == engine.Reason.PRIVATE_CONTACT,
            )
            decision = self._decide(request, t)
            if isinstance(decision, engine.Keep):
                continue
            self._hold(conv, t)
            # Handling counts from the last assignment (as a recorded day measures it:
            # ``closed_at - assigned_at``): the agent it goes to takes the whole time again.
            conv.remaining = self.arrivals[conv.i].handling
            self._release(conv, t)
            self._apply(conv, decision, t, front=True)

    def _route_stranded(self, t: float) -> None:
        """``outcomes.route_stranded``: a queued buyer none of whose candidates is present any
        more is decided again (B9b widens, else B11); if it must still wait, it keeps its place
        with its new candidates."""
        present = {a.id for a in self.agents if a.present}
        participants = {a.id for a in self.agents if a.routing_enabled and a.can_chat}
        for _key, conv in list(self.queue):
            ids = conv.candidates.agent_ids
            if not present.isdisjoint(participants if ids is None else ids):
                continue
            decision = self._decide(self._request(conv), t)
            if isinstance(decision, engine.Queue):
                conv.candidates = decision.candidates
                conv.waiting = engine.Waiting(conv.i, decision.candidates)
            else:
                self._apply(conv, decision, t, front=False)

    # -- results ----------------------------------------------------------------------------------

    def result(self) -> Forecast:
        """The day's figures; call after ``run()``."""
        end = max(self.t, self.day_seconds)
        for track in (self.queue_len, self.held_present, self.capacity_present):
            track.advance(end)
        self.present_count.advance(end)
        n = self.n_buckets
        arrivals = [0] * n
        within = [0] * n
        waits: list[list[float]] = [[] for _b in range(n)]
        answered = left = unanswered = 0
        all_waits: list[float] = []
        for i, arrival in enumerate(self.arrivals):
            b = min(n - 1, int(arrival.at // BUCKET_SECONDS))
            arrivals[b] += 1
            first = self.answered_at[i]
            if math.isnan(first):
                unanswered += 1
                gone = self.left_at[i]
                if not math.isnan(gone):
                    left += 1
                wait = (end if math.isnan(gone) else gone) - arrival.at
            else:
                answered += 1
                wait = first - arrival.at
                if wait <= TWO_MINUTES:
                    within[b] += 1
            waits[b].append(wait)
            all_waits.append(wait)
        buckets = []
        for b in range(n):
            capacity = self.capacity_present.area[b]
            buckets.append(
                Bucket(
                    start=b * BUCKET_SECONDS,
                    arrivals=arrivals[b],
                    queue_avg=self.queue_len.area[b] / BUCKET_SECONDS,
                    queue_max=self.queue_len.peak[b],
                    wait_p50=percentile(waits[b], 50),
                    wait_p90=percentile(waits[b], 90),
                    rate_2min=within[b] / arrivals[b] if arrivals[b] else None,
                    answered_2min=within[b],
                    load=self.held_present.area[b] / capacity if capacity else None,
                )
            )
        total_capacity = sum(self.capacity_present.area)
        total = len(self.arrivals)
        summary = Summary(
            arrivals=total,
            answered=answered,
            answered_2min=sum(within),
            rate_2min=sum(within) / total if total else None,
            left_queue=left,
            unanswered=unanswered,
            wait_p50=percentile(all_waits, 50),
            wait_p90=percentile(all_waits, 90),
            queue_avg=sum(self.queue_len.area) / (n * BUCKET_SECONDS),
            queue_max=max(self.queue_len.peak, default=0),
            load=sum(self.held_present.area) / total_capacity if total_capacity else None,
            agent_hours=sum(self.present_count.area) / HOUR,
            decisions=self.decisions,
        )
        return Forecast(buckets=tuple(buckets), summary=summary)

    def within_2min(self, indexes: Iterable[int]) -> int:
        """How many of these arrivals had their first response within two minutes so far."""
        answered, arrivals = self.answered_at, self.arrivals
        # NaN (not answered yet) compares False.
        return sum(1 for i in indexes if answered[i] - arrivals[i].at <= TWO_MINUTES)


def simulate(
    shop: ShopModel,
    arrivals: Sequence[Arrival],
    roster: Roster,
    *,
    day_start: datetime,
    day_seconds: float = 24 * HOUR,
) -> Forecast:
    """The day's forecast: every event processed, the figures per 15 minutes."""
    sim = Simulation(shop, arrivals, roster, day_start=day_start, day_seconds=day_seconds)
    sim.run()
    return sim.result()


# ---------------------------------------------------------------------------------------------
# The smallest roster that meets a target


@dataclass(frozen=True)
class HourStaff:
    start: float  # seconds since the day's start
    agents: tuple[tuple[Line, int], ...]  # how many agents per staffing line
    arrivals: int
    rate_2min: float | None  # with the suggested roster, re-run over the whole day


@dataclass(frozen=True)
class Suggestion:
    shifts: tuple[Shift, ...]  # counted rows: the roster to re-run
    hours: tuple[HourStaff, ...]
    forecast: Forecast  # the whole day re-run with ``shifts``
    met: bool  # every hour's 2-minute rate at or above the target
    target: float
    staffed_hours: float  # agent-hours of the roster (shifts' lengths times their counts)


MAX_AGENTS_PER_LINE = 500
_STALL = 8  # agents added to an hour without its rate moving: the target is out of reach
_VERIFY_ROUNDS = 12
_LOWER_BOUND = 0.7  # of the offered load: where the search of an hour starts


def staffing_lines(shop: ShopModel, arrivals: Sequence[Arrival]) -> list[Line]:
    """Whose agents serve each buyer (B4 among the shop's groups: the first matching group;
    None where the candidates are every participant, as in simple mode)."""
    lines: list[Line] = []
    for arrival in arrivals:
        groups = engine.scope_candidates(arrival.request, shop.agents, shop.groups).group_ids
        lines.append(min(groups) if groups else None)
    return lines


class _Search:
    """The state of ``suggest``: the arrivals by hour and line, the agents made so far."""

    def __init__(
        self,
        shop: ShopModel,
        arrivals: Sequence[Arrival],
        day_seconds: float,
        max_concurrent: int | None,
    ) -> None:
        self.shop = shop
        self.arrivals = arrivals
        self.day_seconds = day_seconds
        self.max_concurrent = max_concurrent
        self.hours = math.ceil(day_seconds / HOUR)
        lines_of = staffing_lines(shop, arrivals)
        self.lines: list[Line] = sorted(set(lines_of), key=lambda g: (g is not None, g or 0))
        times = [a.at for a in arrivals]
        self.ranges = [
            (bisect.bisect_left(times, h * HOUR), bisect.bisect_left(times, (h + 1) * HOUR))
            for h in range(self.hours)
        ]
        self.by_line: list[dict[Line, list[int]]] = []
        for first, last in self.ranges:
            per: dict[Line, list[int]] = {}
            for i in range(first, last):
                per.setdefault(lines_of[i], []).append(i)
            self.by_line.append(per)
        self.made: dict[Line, list[int]] = {line: [] for line in self.lines}
        self.next_id = SYNTHETIC_BASE
        self.per_load: float | None = None  # agents per offered load, the last hour searched

    def line_max(self, line: Line) -> int:
        return self.max_concurrent or self.shop.max_for_group(line)

    def span(self, h: int) -> tuple[float, float]:
        return h * HOUR, min((h + 1) * HOUR, self.day_seconds)

    def staff(
        self, sim: Simulation, counts: dict[Line, int], before: dict[Line, int], t0: float
    ) -> None:
        """From ``t0``, agents 0..count-1 of each line online; those beyond, who worked the
        hour before, end their shift (C7). Agents are made (in ``sim``) as needed."""
        changes = []
        for line in self.lines:
            ids = self.made[line]
            while len(ids) < counts[line]:
                sim.add_agent(synthetic_agent(self.next_id, self.line_max(line), line))
                ids.append(self.next_id)
                self.next_id += 1
            for k, agent_id in enumerate(ids):
                if k < counts[line]:
                    changes.append(Change(t0, agent_id, engine.Status.ONLINE))
                elif k < before[line]:
                    changes.append(Change(t0, agent_id, None))
        sim.apply_changes(changes)

    def rate(self, sim: Simulation, indexes: Sequence[int]) -> float:
        return sim.within_2min(indexes) / len(indexes)

    def worst_line(self, sim: Simulation, h: int) -> Line:
        """The line whose buyers of hour ``h`` fare worst (the busiest first on a tie)."""
        per = self.by_line[h]
        return min(per, key=lambda line: (self.rate(sim, per[line]), -len(per[line])))

    def attempt(
        self, sim: Simulation, h: int, counts: dict[Line, int], before: dict[Line, int]
    ) -> tuple[float, Simulation]:
        """Hour ``h`` played with ``counts`` on a fork of ``sim`` (at the hour's start), to two
        minutes past its end: the 2-minute rate of its buyers, and the fork."""
        t0, t1 = self.span(h)
        first, last = self.ranges[h]
        made = {line: list(ids) for line, ids in self.made.items()}
        next_id = self.next_id
        trial = sim.fork()
        self.staff(trial, counts, before, t0)
        trial.run(until=t1 + TWO_MINUTES)
        self.made, self.next_id = made, next_id  # the trial's agents were the trial's alone
        return self.rate(trial, range(first, last)), trial

    def hour(
        self, sim: Simulation, h: int, before: dict[Line, int], target: float
    ) -> dict[Line, int]:
        """The fewest agents per line for hour ``h``, each count tried on a fork of ``sim``.
        One line with buyers: a search on its count from a guess (the agents per offered load
        the hour before needed); several: one agent more at a time for the line whose buyers
        fare worst, from the lower bound."""
        t0, t1 = self.span(h)
        first, last = self.ranges[h]
        counts = dict.fromkeys(self.lines, 0)
        if last == first:
            return counts
        offered: dict[Line, float] = {}
        for line, indexes in self.by_line[h].items():
            offered[line] = sum(self.arrivals[i].handling for i in indexes) / (t1 - t0)
            counts[line] = int(_LOWER_BOUND * offered[line] / self.line_max(line))
        if len(self.by_line[h]) == 1:
            (line,) = self.by_line[h]
            guess = counts[line]
            if self.per_load is not None:
                guess = max(guess, round(self.per_load * offered[line]))
            found = self._search_one(sim, h, counts, line, before, target, guess)
            if found < MAX_AGENTS_PER_LINE and offered[line] > 0:
                self.per_load = found / offered[line]
            return {**counts, line: found}
        best, stall = -1.0, 0
        while True:
            rate, trial = self.attempt(sim, h, counts, before)
            if rate >= target:
                return counts
            stall = 0 if rate > best + 1e-9 else stall + 1
            best = max(best, rate)
            worst = self.worst_line(trial, h)
            if stall >= _STALL or counts[worst] >= MAX_AGENTS_PER_LINE:
                return counts  # out of reach (e.g. private contacts of an absent main account)
            counts[worst] += 1

    def _search_one(
        self,
        sim: Simulation,
        h: int,
        counts: dict[Line, int],
        line: Line,
        before: dict[Line, int],
        target: float,
        guess: int,
    ) -> int:
        """The smallest count of ``line``'s agents, not below the lower bound in ``counts``,
        that meets the target (the rate grows with the count, as a rule)."""

        def meets(n: int) -> tuple[bool, float]:
            rate, _trial = self.attempt(sim, h, {**counts, line: n}, before)
            return rate >= target, rate

        floor = counts[line]  # below it the hour's load alone exceeds the agents' slots
        start = min(max(floor, guess), MAX_AGENTS_PER_LINE)
        ok, best = meets(start)
        if ok:
            if start == floor or not meets(start - 1)[0]:
                return start
            low, high = floor - 1, start - 1  # ``low``: below the bound, taken as a miss
        else:
            step, stall, low = max(1, start // 4), 0, start
            while True:  # gallop up to a count that meets the target
                high = min(low + step, MAX_AGENTS_PER_LINE)
                ok, rate = meets(high)
                if ok:
                    break
                stall = 0 if rate > best + 1e-9 else stall + 1
                best = max(best, rate)
                if high >= MAX_AGENTS_PER_LINE or stall >= 3:
                    return high  # out of reach (e.g. private contacts of an absent main account)
                low, step = high, step * 2
        while high - low > 1:  # the smallest that meets it, between a miss and a hit
            middle = (low + high) // 2
            if meets(middle)[0]:
                high = middle
            else:
                low = middle
        return high

    def shifts(self, plan: Sequence[dict[Line, int]]) -> list[Shift]:
        """Counted roster rows for a plan of agents per hour and line: agent k of a line works
        the hours where its line has more than k agents, one row per run of consecutive hours;
        rows with the same hours and line are one row with a count."""
        rows: dict[tuple[int, Line, float, float], int] = {}
        for n, line in enumerate(self.lines):
            most = max((counts[line] for counts in plan), default=0)
            for k in range(most):
                start: int | None = None
                for h in range(len(plan) + 1):
                    working = h < len(plan) and plan[h][line] > k
                    if working and start is None:
                        start = h
                    elif not working and start is not None:
                        key = (n, line, self.span(start)[0], self.span(h - 1)[1])
                        rows[key] = rows.get(key, 0) + 1
                        start = None
        return [
            Shift(
                start=start,
                end=end,
                count=count,
                max_concurrent=self.line_max(line),
                group=line,
            )
            for (_n, line, start, end), count in rows.items()
        ]


def suggest(
    shop: ShopModel,
    arrivals: Sequence[Arrival],
    *,
    day_start: datetime,
    day_seconds: float = 24 * HOUR,
    target: float = 0.8,
    max_concurrent: int | None = None,
) -> Suggestion:
    """The fewest agents per hour (each with ``max_concurrent``, else its group's or the
    shop's default max, C1) that keep the 2-minute rate of every hour's buyers at or above
    ``target``. The shop's own accounts stay offline: the suggestion is how many agents to put
    on the day, per group where the shop routes by groups, not who.

    Hour by hour from midnight, the state at the hour's start is forked and the hour played
    (with two minutes more, the last buyers' window) with one agent more each time in the line
    whose buyers fare worst, from a lower bound (0.7 of the hour's offered load over an agent's
    max), until the hour meets the target; that hour is then played for good and the next one
    searched. The roster found is re-run over the whole day as a client re-runs it
    (``compile_roster``); an hour that falls short there (the two minutes after an hour belong
    to the next one's roster) gets one agent more and the day is re-run, until every hour
    meets the target."""
    ordered = tuple(sorted(arrivals, key=lambda a: a.at))
    search = _Search(shop, ordered, day_seconds, max_concurrent)
    base = Roster(agents=tuple(_offline(a) for a in shop.agents), changes=())
    sim = Simulation(shop, ordered, base, day_start=day_start, day_seconds=day_seconds)
    plan: list[dict[Line, int]] = []
    before = dict.fromkeys(search.lines, 0)
    for h in range(search.hours):
        counts = search.hour(sim, h, before, target)
        search.staff(sim, counts, before, search.span(h)[0])
        sim.run(until=search.span(h)[1])
        plan.append(counts)
        before = counts

    shifts: list[Shift] = []
    check = sim
    for _round in range(_VERIFY_ROUNDS):
        shifts = search.shifts(plan)
        roster = compile_roster(shop, shifts, day_seconds)
        check = Simulation(shop, ordered, roster, day_start=day_start, day_seconds=day_seconds)
        check.run()
        short = [
            h
            for h, (first, last) in enumerate(search.ranges)
            if last > first and search.rate(check, range(first, last)) < target
        ]
        grown = False
        for h in short:
            worst = search.worst_line(check, h)
            if plan[h][worst] < MAX_AGENTS_PER_LINE:
                plan[h][worst] += 1
                grown = True
        if not short or not grown:
            break
    hours = []
    met = True
    for h, (first, last) in enumerate(search.ranges):
        rate = search.rate(check, range(first, last)) if last > first else None
        met = met and (rate is None or rate >= target)
        hours.append(
            HourStaff(
                start=h * HOUR,
                agents=tuple((line, plan[h][line]) for line in search.lines),
                arrivals=last - first,
                rate_2min=rate,
            )
        )
    staffed = sum(shift.count * (shift.end - shift.start) for shift in shifts) / HOUR
    return Suggestion(
        shifts=tuple(shifts),
        hours=tuple(hours),
        forecast=check.result(),
        met=met,
        target=target,
        staffed_hours=staffed,
    )
