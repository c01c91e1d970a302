"""Property-based tests of the pure routing decision (SPEC B4-B11, C1-C6): ``decide``, ``pick``,
``dispatch`` and ``scope_candidates`` over random shops, agents and buyers. No database, so many
examples (see the hypothesis profiles in the root conftest)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, note
from hypothesis import strategies as st

from apps.routing.engine import (
    Agent,
    Assign,
    Candidates,
    Group,
    OfflineHandling,
    Pool,
    Queue,
    QueueMode,
    Reason,
    Request,
    Rule,
    Settings,
    Status,
    Waiting,
    decide,
    dispatch,
    pick,
    queue_applies,
    scope_candidates,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MAIN_ID = 1

# SPEC C1: the only assignments that may leave an agent past its max concurrent.
OVER_MAX_REASONS = {
    Reason.REENTRY,  # C6
    Reason.PRIVATE_CONTACT,  # B8
    Reason.MAIN_PAUSED,  # B10
    Reason.OFFLINE_MAIN,  # B11 main_account
}

SEGMENTS = ["member:gold", "region:zhejiang", "new"]
PRODUCTS = ["p1", "p2", "category:shoes"]
INTENTS = ["refund", "size"]
ORDER_STATUSES = ["none", "unpaid", "paid", "shipped", "completed", "after_sale"]


# ---------------------------------------------------------------------------------------------
# Strategies


def _subset(values: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(values), max_size=2)


@st.composite
def groups(draw: st.DrawFn) -> list[Group]:
    count = draw(st.integers(0, 3))
    return [
        Group(
            id=100 + i,
            segments=draw(_subset(SEGMENTS)),
            products=draw(_subset(PRODUCTS)),
            intents=draw(_subset(INTENTS)),
            order_statuses=draw(_subset(ORDER_STATUSES)),
        )
        for i in range(count)
    ]


@st.composite
def agents(draw: st.DrawFn, group_ids: list[int], *, min_size: int = 1) -> list[Agent]:
    count = draw(st.integers(min_size, 6))
    made = []
    for i in range(count):
        maximum = draw(st.integers(1, 4))
        made.append(
            Agent(
                id=MAIN_ID + i,
                is_main=i == 0,
                status=draw(st.sampled_from(list(Status))),
                routing_enabled=draw(st.booleans()),
                can_chat=i == 0 or draw(st.integers(0, 9)) > 0,
                group_id=draw(st.sampled_from([None, *group_ids])) if group_ids else None,
                weight=draw(st.integers(1, 100)),
                max_concurrent=maximum,
                open_count=draw(st.integers(0, maximum + 1)),
                wrr_current=draw(st.integers(-200, 200)),
                last_assigned_at=draw(
                    st.none() | st.integers(0, 600).map(lambda s: NOW - timedelta(seconds=s))
                ),
            )
        )
    return made


@st.composite
def rules(draw: st.DrawFn, group_ids: list[int]) -> Settings:
    return Settings(
        assignment_rule=draw(st.sampled_from(list(Rule))),
        recent_contact_first=draw(st.booleans()),
        buyer_chooses_agent=draw(st.booleans()),
        queue_mode=draw(st.sampled_from(list(QueueMode))),
        queue_groups=draw(st.frozensets(st.sampled_from(group_ids))) if group_ids else frozenset(),
        reentry_window_seconds=draw(st.sampled_from([0, 600])),
        offline_routing=draw(st.booleans()),
        offline_handling=draw(st.sampled_from(list(OfflineHandling))),
    )


@st.composite
def requests(draw: st.DrawFn, agent_ids: list[int]) -> Request:
    someone = st.none() | st.sampled_from([*agent_ids, 999])
    return Request(
        segments=draw(_subset(SEGMENTS)),
        product=draw(st.none() | st.sampled_from(["p1", "p2", "p3"])),
        product_category=draw(st.none() | st.sampled_from(["shoes", "hats"])),
        intent=draw(st.none() | st.sampled_from(INTENTS)),
        order_status=draw(st.sampled_from(ORDER_STATUSES)),
        private_contact=draw(st.integers(0, 9)) == 0,
        chosen_agent_id=draw(someone),
        last_agent_id=draw(someone),
        last_closed_at=draw(
            st.none() | st.integers(0, 1200).map(lambda s: NOW - timedelta(seconds=s))
        ),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Agent], list[Group], Settings, Request]:
    gs = draw(groups())
    ids = [g.id for g in gs]
    team = draw(agents(ids))
    return team, gs, draw(rules(ids)), draw(requests([a.id for a in team]))


# ---------------------------------------------------------------------------------------------
# decide


def _members(candidates: Candidates, team: list[Agent]) -> list[Agent]:
    if candidates.agent_ids is None:
        return [a for a in team if a.routing_enabled and a.can_chat]
    return [a for a in team if a.id in candidates.agent_ids and a.can_chat]


@given(worlds())
def test_decide_never_breaks_the_cap_outside_c1_exceptions(world):
    # SPEC C1, C2: past max only for re-entry, private contacts, the main-account fallbacks, or
    # where the queue is off.
    team, gs, settings, request = world
    decision = decide(request, team, gs, settings, NOW)
    note(repr(decision))
    if not isinstance(decision, Assign):
        return
    chosen = next(a for a in team if a.id == decision.agent_id)
    assert decision.over_max == (not chosen.below_max)
    if decision.reason in OVER_MAX_REASONS:
        return
    if decision.reason == Reason.RULE and not queue_applies(decision.candidates, settings, gs):
        return  # C2: the queue is off here, max is not enforced
    assert chosen.below_max, decision


@given(worlds())
def test_decide_assigns_only_to_agents_the_rule_allows(world):
    team, gs, settings, request = world
    decision = decide(request, team, gs, settings, NOW)
    note(repr(decision))
    if not isinstance(decision, Assign):
        return
    by_id = {a.id: a for a in team}
    chosen = by_id[decision.agent_id]
    if decision.reason == Reason.PRIVATE_CONTACT:  # B8
        assert request.private_contact and chosen.is_main
    elif decision.reason == Reason.REENTRY:  # C6
        assert decision.agent_id == request.last_agent_id and chosen.present
        assert request.last_closed_at is not None and settings.reentry_window_seconds
        assert (NOW - request.last_closed_at).total_seconds() < settings.reentry_window_seconds
    elif decision.reason == Reason.BUYER_CHOICE:  # B7
        assert settings.buyer_chooses_agent and decision.agent_id == request.chosen_agent_id
        assert chosen.present and chosen.below_max
    elif decision.reason == Reason.RECENT_CONTACT:  # B6
        assert settings.recent_contact_first and decision.agent_id == request.last_agent_id
        assert chosen.present and chosen.below_max
    elif decision.reason == Reason.RULE:  # B5: an eligible candidate
        assert chosen.eligible and decision.candidates.includes(chosen)
        assert chosen in _members(decision.candidates, team)
    elif decision.reason == Reason.MAIN_PAUSED:  # B10
        assert chosen.is_main and chosen.status == Status.PAUSED
        assert all(a.status == Status.OFFLINE for a in team if not a.is_main)
    elif decision.reason == Reason.OFFLINE_MAIN:  # B11 main_account
        assert chosen.is_main and settings.offline_handling == OfflineHandling.MAIN_ACCOUNT
        # Nobody could take the buyer: no eligible candidate, or (amended C1, after B9b
        # widening) none below max where the buyer's own group does not queue.
        members = _members(decision.candidates, team)
        assert not any(a.eligible and a.below_max for a in members)
    else:
        raise AssertionError(f"decide never gives {decision.reason}")


@given(worlds())
def test_decide_queues_only_when_nobody_eligible_is_free_and_someone_is_present(world):
    # SPEC C3: wait while any candidate is online or paused and no eligible one is below max.
    team, gs, settings, request = world
    decision = decide(request, team, gs, settings, NOW)
    note(repr(decision))
    if isinstance(decision, Queue):
        members = _members(decision.candidates, team)
        assert queue_applies(decision.candidates, settings, gs)
        assert any(a.present for a in members)
        assert not any(a.eligible and a.below_max for a in members)
    if isinstance(decision, Pool):  # B11 pool: nobody eligible can take it now
        assert settings.offline_handling == OfflineHandling.POOL
        # No eligible candidate, or (amended C1, after B9b widening) none below max where the
        # buyer's group does not queue: the same rule as the B11 main_account branch above.
        members = _members(decision.candidates, team)
        assert not any(a.eligible and a.below_max for a in members)
        assert not queue_applies(decision.candidates, settings, gs) or not any(
            a.present for a in members
        )


@given(worlds())
def test_decide_takes_a_free_eligible_agent_in_simple_mode(world):
    # SPEC B2, B5, C3: with no groups and no personal rule, a free eligible participant always
    # gets the buyer (no one waits while a slot is free).
    team, _gs, settings, request = world
    request = replace(request, private_contact=False, last_agent_id=None, chosen_agent_id=None)
    # Make sure somebody is free: the last agent takes part, is online and below max.
    free = replace(
        team[-1], status=Status.ONLINE, routing_enabled=True, can_chat=True, open_count=0
    )
    team = [*team[:-1], free]
    decision = decide(request, team, [], settings, NOW)
    assert isinstance(decision, Assign) and decision.reason == Reason.RULE
    if queue_applies(decision.candidates, settings, []):
        assert not decision.over_max  # C2: past max only where the queue is off


@given(worlds())
def test_decide_is_deterministic_and_private_contacts_reach_main(world):
    team, gs, settings, request = world
    assert decide(request, team, gs, settings, NOW) == decide(request, team, gs, settings, NOW)
    private = decide(replace(request, private_contact=True), team, gs, settings, NOW)
    assert isinstance(private, Assign) and private.agent_id == MAIN_ID  # B8
    assert private.reason == Reason.PRIVATE_CONTACT


@given(worlds(), st.data())
def test_reroute_never_returns_to_the_agent_it_leaves(world, data):
    # SPEC B9a: re-routed to the eligible agents of its candidate set, never the one leaving.
    team, gs, settings, request = world
    leaving = data.draw(st.sampled_from(team[1:] or team))
    request = replace(request, reroute=True, exclude_agent_id=leaving.id)
    decision = decide(request, team, gs, settings, NOW)
    if isinstance(decision, Assign):
        assert decision.agent_id != leaving.id or leaving.is_main
        assert decision.reason in {Reason.RULE, Reason.MAIN_PAUSED, Reason.OFFLINE_MAIN}


@given(worlds())
def test_new_conversation_with_all_candidates_offline_widens_before_b11(world):
    # SPEC B9b: with offline routing on, a new conversation whose candidates are all offline
    # widens to every participating account before B11 applies. Where the queue is off nobody
    # waits, so B11 ("nobody online") also takes it when its present candidates are all paused.
    team, gs, settings, request = world
    settings = replace(settings, offline_routing=True)
    decision = decide(request, team, gs, settings, NOW)
    landed_offline = isinstance(decision, Pool) or (
        isinstance(decision, Assign) and decision.reason == Reason.OFFLINE_MAIN
    )
    if landed_offline:
        members = _members(decision.candidates, team)
        participants = [a for a in team if a.routing_enabled and a.can_chat]
        # Nobody eligible, or (amended C1, after B9b widening) nobody eligible below max.
        assert not any(a.eligible and a.below_max for a in members)
        if not any(a.present for a in members):
            assert not any(a.present for a in participants)  # widened, or nobody to widen to
        if queue_applies(decision.candidates, settings, gs):
            assert not any(a.present for a in members)


# ---------------------------------------------------------------------------------------------
# scope (B4)


@given(st.data())
def test_scope_follows_precedence_and_falls_back(data):
    gs = data.draw(groups())
    team = data.draw(agents([g.id for g in gs]))
    request = data.draw(requests([a.id for a in team]))
    candidates = scope_candidates(request, team, gs)
    participants = {a.id for a in team if a.routing_enabled and a.can_chat}
    if not gs:  # B2 simple mode
        assert candidates.agent_ids == participants
        return
    assert candidates.agent_ids is not None and candidates.agent_ids <= participants
    wanted = {
        "segments": set(request.segments),
        "products": {request.product, f"category:{request.product_category}"} - {None},
        "intents": {request.intent} - {None},
        "order_statuses": {request.order_status},
    }
    for dimension in ("segments", "products", "intents", "order_statuses"):
        matching = {g.id for g in gs if set(getattr(g, dimension)) & wanted[dimension]}
        if matching:
            assert candidates.group_ids == matching
            break
    else:
        unscoped = {g.id for g in gs if not g.has_scope}
        if unscoped:
            assert candidates.group_ids == unscoped
        else:
            assert candidates.agent_ids == participants
            return
    members = {a.id for a in team if a.group_id in candidates.group_ids} & participants
    assert candidates.agent_ids == members


# ---------------------------------------------------------------------------------------------
# pick (B5)


def _capacity_order(a: Agent) -> tuple[float, int, float, int]:
    return (
        a.open_count / a.max_concurrent,
        -a.weight,
        a.last_assigned_at.timestamp() if a.last_assigned_at else float("-inf"),
        a.id,
    )


@given(st.data())
def test_pick_capacity_takes_lowest_load_then_weight_then_longest_wait_then_id(data):
    team = data.draw(agents([]))
    respect = data.draw(st.booleans())
    picked = pick(team, Settings(assignment_rule=Rule.CAPACITY), respect_max=respect)
    fits = [a for a in team if a.below_max or not respect]
    if not fits:
        assert picked is None
        return
    assert picked is not None
    chosen, wrr = picked
    assert wrr == {}
    assert chosen == min(fits, key=_capacity_order)


@given(st.data())
def test_pick_even_is_smooth_weighted_round_robin(data):
    team = data.draw(agents([]))
    respect = data.draw(st.booleans())
    picked = pick(team, Settings(assignment_rule=Rule.EVEN), respect_max=respect)
    fits = [a for a in team if a.below_max or not respect]
    if not fits:
        assert picked is None
        return
    assert picked is not None
    chosen, wrr = picked
    assert chosen in fits and set(wrr) == {a.id for a in fits}
    raised = {a.id: a.wrr_current + a.weight for a in fits}
    assert raised[chosen.id] == max(raised.values())
    # The winner pays the total weight, so the sum of current weights is conserved.
    assert sum(wrr.values()) == sum(a.wrr_current for a in fits)


@given(
    st.lists(st.integers(1, 100), min_size=1, max_size=6),
    st.integers(1, 400),
)
def test_even_rule_shares_follow_weights_within_one_per_agent(weights, rounds):
    # SPEC B5 even: with equal availability each agent's count is proportional to its weight.
    # Stated tolerance: smooth WRR never strays more than one assignment per agent in the pool
    # from the exact share weight / total x rounds, after any number of rounds.
    team = [
        Agent(
            id=i + 1,
            is_main=False,
            status=Status.ONLINE,
            routing_enabled=True,
            can_chat=True,
            group_id=None,
            weight=w,
            max_concurrent=50,
            open_count=0,
        )
        for i, w in enumerate(weights)
    ]
    settings = Settings(assignment_rule=Rule.EVEN)
    counts = dict.fromkeys((a.id for a in team), 0)
    total = sum(weights)
    for _ in range(rounds):
        picked = pick(team, settings, respect_max=True)
        assert picked is not None
        chosen, wrr = picked
        counts[chosen.id] += 1
        team = [replace(a, wrr_current=wrr[a.id]) for a in team]
    for a in team:
        assert abs(counts[a.id] - rounds * a.weight / total) <= len(team), counts
    if rounds % total == 0:  # a whole cycle: exact
        assert all(counts[a.id] == rounds // total * a.weight for a in team)


# ---------------------------------------------------------------------------------------------
# dispatch (C3, C4)


@st.composite
def queues(draw: st.DrawFn, agent_ids: list[int]) -> list[Waiting]:
    count = draw(st.integers(0, 8))
    made = []
    for i in range(count):
        ids = draw(st.none() | st.frozensets(st.sampled_from(agent_ids), max_size=3))
        made.append(Waiting(1000 + i, Candidates(ids)))
    return made


@given(st.data())
def test_dispatch_fills_free_slots_in_queue_order_and_never_past_max(data):
    gs = data.draw(groups())
    team = data.draw(agents([g.id for g in gs]))
    settings = data.draw(rules([g.id for g in gs]))
    waiting = data.draw(queues([a.id for a in team]))
    made, after = dispatch(waiting, team, settings)
    before = {a.id: a for a in team}
    after_by_id = {a.id: a for a in after}
    taken = {conversation_id: decision for conversation_id, decision in made}
    assert len(taken) == len(made)  # no conversation handed out twice
    # Loads move by exactly the assignments made; nobody ends past max because of them.
    for agent_id, agent in after_by_id.items():
        gained = sum(1 for d in taken.values() if d.agent_id == agent_id)
        assert agent.open_count == before[agent_id].open_count + gained
        if gained:
            assert before[agent_id].eligible
            assert agent.open_count <= agent.max_concurrent
    for item in waiting:
        decision = taken.get(item.id)
        if decision is not None:
            assert item.candidates.includes(before[decision.agent_id])
            assert decision.reason == Reason.QUEUE and not decision.over_max
    # C3: at the end no eligible agent below max is a candidate of a conversation still waiting.
    for item in waiting:
        if item.id in taken:
            continue
        for agent in after:
            assert not (
                agent.eligible
                and agent.below_max
                and item.candidates.includes(agent)
                and (item.candidates.agent_ids is not None or agent.routing_enabled)
            ), (item, agent)
    # C4: a conversation skipped had none of the later winners among its candidates.
    for index, item in enumerate(waiting):
        if item.id in taken:
            continue
        for later in waiting[index + 1 :]:
            decision = taken.get(later.id)
            if decision is not None:
                winner = before[decision.agent_id]
                assert not (item.candidates.includes(winner) and winner.routing_enabled), (
                    item,
                    later,
                    decision,
                )
