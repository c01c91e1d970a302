"""The pure routing decision (SPEC B4-B11, C1-C6), no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    scope_candidates,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ON, PAUSED, OFF = Status.ONLINE, Status.PAUSED, Status.OFFLINE


def agent(id: int, status: Status = ON, **kw: object) -> Agent:
    fields: dict[str, object] = dict(
        id=id,
        is_main=False,
        status=status,
        routing_enabled=True,
        can_chat=True,
        group_id=None,
        weight=10,
        max_concurrent=3,
        open_count=0,
    )
    fields.update(kw)
    return Agent(**fields)  # type: ignore[arg-type]


def main(status: Status = OFF, **kw: object) -> Agent:
    return agent(1, status, is_main=True, **kw)


def test_b5_capacity_picks_lowest_load_then_weight_then_longest_wait_then_id():
    a = agent(2, open_count=1, max_concurrent=2)  # 0.5
    b = agent(3, open_count=1, max_concurrent=4)  # 0.25
    assert pick([a, b], Settings(), respect_max=True)[0].id == 3  # type: ignore[index]
    c = agent(4, weight=20)
    d = agent(5, weight=10)
    assert pick([d, c], Settings(), respect_max=True)[0].id == 4  # type: ignore[index]
    never = agent(6)
    recent = agent(7, last_assigned_at=NOW)
    assert pick([recent, never], Settings(), respect_max=True)[0].id == 6  # type: ignore[index]
    assert pick([agent(9), agent(8)], Settings(), respect_max=True)[0].id == 8  # type: ignore[index]


def test_b5_even_shares_follow_weights():
    agents = [agent(2, weight=30, max_concurrent=50), agent(3, weight=10, max_concurrent=50)]
    counts = {2: 0, 3: 0}
    settings = Settings(assignment_rule=Rule.EVEN)
    for _ in range(400):
        chosen, wrr = pick(agents, settings, respect_max=False)  # type: ignore[misc]
        counts[chosen.id] += 1
        agents = [
            Agent(**{**a.__dict__, "wrr_current": wrr.get(a.id, a.wrr_current)}) for a in agents
        ]
    assert counts == {2: 300, 3: 100}


def test_c3_agent_at_max_makes_next_buyer_queue():
    decision = decide(Request(), [main(), agent(2, open_count=3)], [], Settings(), NOW)
    assert isinstance(decision, Queue)


def test_c2_queue_off_ignores_max():
    decision = decide(
        Request(), [main(), agent(2, open_count=3)], [], Settings(queue_mode=QueueMode.OFF), NOW
    )
    assert isinstance(decision, Assign) and decision.agent_id == 2 and decision.over_max


def test_c6_reentry_within_window_goes_to_same_agent_above_cap():
    req = Request(last_agent_id=2, last_closed_at=NOW - timedelta(minutes=5))
    agents = [main(), agent(2, PAUSED, open_count=3), agent(3)]
    decision = decide(req, agents, [], Settings(), NOW)
    assert decision == Assign(2, Reason.REENTRY, True, Candidates(None))


def test_c6_window_zero_means_normal_routing():
    req = Request(last_agent_id=2, last_closed_at=NOW - timedelta(seconds=5))
    agents = [main(), agent(2, open_count=3)]
    assert isinstance(decide(req, agents, [], Settings(reentry_window_seconds=0), NOW), Queue)


def test_c6_reentry_with_agent_offline_goes_to_its_group_else_queue():
    req = Request(last_agent_id=2, last_closed_at=NOW - timedelta(minutes=1))
    agents = [main(), agent(2, OFF, group_id=10), agent(3, group_id=10), agent(4, group_id=11)]
    groups = [Group(10), Group(11)]
    decision = decide(req, agents, groups, Settings(), NOW)
    assert isinstance(decision, Assign) and decision.agent_id == 3
    full = [
        main(),
        agent(2, OFF, group_id=10),
        agent(3, group_id=10, open_count=3),
        agent(4, group_id=11),
    ]
    decision = decide(req, full, groups, Settings(), NOW)
    assert isinstance(decision, Queue) and decision.candidates.agent_ids == frozenset({2, 3})


def test_b10_all_subs_offline_and_main_paused_reaches_main():
    decision = decide(Request(), [main(PAUSED), agent(2, OFF)], [], Settings(), NOW)
    assert isinstance(decision, Assign) and decision.reason == Reason.MAIN_PAUSED


def test_b8_private_contact_goes_to_main_even_offline():
    decision = decide(Request(private_contact=True), [main(OFF), agent(2)], [], Settings(), NOW)
    assert isinstance(decision, Assign) and decision.agent_id == 1
    assert decision.reason == Reason.PRIVATE_CONTACT


def test_b4_scope_precedence_segment_over_product_over_intent_over_order_status():
    groups = [
        Group(10, segments=frozenset({"member:gold"})),
        Group(11, products=frozenset({"p1"})),
        Group(12, intents=frozenset({"refund"})),
        Group(13, order_statuses=frozenset({"paid"})),
    ]
    agents = [main(), *(agent(i, group_id=g) for i, g in [(2, 10), (3, 11), (4, 12), (5, 13)])]
    full = Request(
        segments=frozenset({"member:gold"}), product="p1", intent="refund", order_status="paid"
    )
    assert scope_candidates(full, agents, groups).group_ids == {10}
    no_seg = Request(product="p1", intent="refund", order_status="paid")
    assert scope_candidates(no_seg, agents, groups).group_ids == {11}
    assert scope_candidates(
        Request(intent="refund", order_status="paid"), agents, groups
    ).group_ids == {12}
    assert scope_candidates(Request(order_status="paid"), agents, groups).group_ids == {13}


def test_b4_category_scope_and_fallback_to_unscoped_groups():
    groups = [Group(10, products=frozenset({"category:shoes"})), Group(11)]
    agents = [main(), agent(2, group_id=10), agent(3, group_id=11), agent(4)]
    req = Request(product="p9", product_category="shoes")
    assert scope_candidates(req, agents, groups).agent_ids == {2}
    assert scope_candidates(Request(), agents, groups).agent_ids == {3}


def test_b9b_all_candidates_offline_widens_then_b11():
    groups = [Group(10, segments=frozenset({"vip"}))]
    agents = [main(), agent(2, OFF, group_id=10), agent(3)]
    req = Request(segments=frozenset({"vip"}))
    decision = decide(req, agents, groups, Settings(), NOW)
    assert isinstance(decision, Assign) and decision.agent_id == 3
    off = decide(req, agents, groups, Settings(offline_routing=False), NOW)
    assert isinstance(off, Assign) and off.reason == Reason.OFFLINE_MAIN
    pooled = decide(
        req,
        agents,
        groups,
        Settings(offline_routing=False, offline_handling=OfflineHandling.POOL),
        NOW,
    )
    assert isinstance(pooled, Pool)


def test_dispatch_takes_queue_in_order_within_candidates():
    agents = [agent(2, max_concurrent=1), agent(3, max_concurrent=1, open_count=1)]
    waiting = [
        Waiting(100, Candidates(frozenset({3}))),
        Waiting(101, Candidates(None)),
        Waiting(102, Candidates(None)),
    ]
    made, _ = dispatch(waiting, agents, Settings())
    assert [(cid, a.agent_id) for cid, a in made] == [(101, 2)]
