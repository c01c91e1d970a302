"""The staffing forecast's simulation (SPEC G4, ``apps.routing.forecast``): pure, on plain data.

Each SPEC rule the simulation applies through the engine, in a small day whose figures are
worked out by hand; the measures (queue length, waits, the 2-minute rate, load); rosters
(shifts end by pausing and finishing, C7); forks; and invariants over random days."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from apps.routing import engine
from apps.routing import forecast as fc

DAY = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # midnight in Asia/Shanghai
H = 3600.0
ONLINE, PAUSED, OFFLINE = engine.Status.ONLINE, engine.Status.PAUSED, engine.Status.OFFLINE


def agent(agent_id: int, *, main: bool = False, max_concurrent: int = 1, **kw) -> engine.Agent:
    fields = dict(
        id=agent_id,
        is_main=main,
        status=OFFLINE,
        routing_enabled=True,
        can_chat=True,
        group_id=None,
        weight=10,
        max_concurrent=max_concurrent,
        open_count=0,
    )
    fields.update(kw)
    return engine.Agent(**fields)  # type: ignore[arg-type]


MAIN = agent(1, main=True, max_concurrent=5)


def shop(*agents: engine.Agent, **kw) -> fc.ShopModel:
    return fc.ShopModel(
        agents=(MAIN, *agents), groups=(), rules=kw.pop("rules", engine.Settings()), **kw
    )


def roster(model: fc.ShopModel, *changes: tuple[float, int, engine.Status | None]) -> fc.Roster:
    return fc.Roster(
        agents=model.agents,
        changes=tuple(fc.Change(at, who, status) for at, who, status in changes),
    )


def run(model: fc.ShopModel, arrivals, plan: fc.Roster) -> fc.Simulation:
    sim = fc.Simulation(model, arrivals, plan, day_start=DAY)
    sim.run()
    return sim


def waits(sim: fc.Simulation) -> list[float]:
    return [first - a.at for first, a in zip(sim.answered_at, sim.arrivals, strict=True)]


# ---------------------------------------------------------------------------------------------
# Queue rules through the engine


def test_c3_a_buyer_waits_while_the_agent_is_full_and_gets_the_freed_slot():
    # given one agent with a max of 1 from 09:00, and two buyers asking at 09:10 and 09:11
    model = shop(agent(2))
    arrivals = [fc.Arrival(at=9 * H + 600, handling=300), fc.Arrival(at=9 * H + 660, handling=300)]
    sim = run(model, arrivals, roster(model, (9 * H, 2, ONLINE)))
    # then the second waits until the first ends (09:15), welcomed at once then (D1)
    assert waits(sim) == [0.0, 240.0]
    result = sim.result()
    # and the queue held one buyer from 09:11 to 09:15 in the 09:00 bucket: 240 / 900
    bucket = result.buckets[36]
    assert bucket.queue_avg == 240 / 900 and bucket.queue_max == 1
    assert bucket.rate_2min == 0.5 and bucket.answered_2min == 1 and bucket.arrivals == 2
    assert bucket.wait_p50 == 0 and bucket.wait_p90 == 240
    assert result.summary.answered == 2 and result.summary.unanswered == 0


def test_c4_newest_first_serves_the_last_buyer_first():
    model = shop(agent(2), queue_order="newest_first")
    arrivals = [fc.Arrival(at=9 * H + n, handling=100) for n in range(3)]
    sim = run(model, arrivals, roster(model, (9 * H, 2, ONLINE)))
    assert waits(sim) == [0.0, 199.0, 98.0]  # the third (newest) goes before the second


def test_c2_queue_off_assigns_past_max():
    model = shop(agent(2), rules=engine.Settings(queue_mode=engine.QueueMode.OFF))
    arrivals = [fc.Arrival(at=9 * H + n, handling=100) for n in range(3)]
    sim = run(model, arrivals, roster(model, (9 * H, 2, ONLINE)))
    assert waits(sim) == [0.0, 0.0, 0.0]
    assert sim.result().buckets[36].load == 3.0 * 100 / (900 * 1)  # three in one slot


def test_c5_a_buyer_who_waits_too_long_leaves_and_counts_as_a_failure():
    model = shop(agent(2))
    arrivals = [
        fc.Arrival(at=9 * H, handling=600),
        fc.Arrival(at=9 * H + 10, handling=60, patience=120),
    ]
    result = run(model, arrivals, roster(model, (9 * H, 2, ONLINE))).result()
    assert result.summary.left_queue == 1 and result.summary.unanswered == 1
    assert result.summary.rate_2min == 0.5
    assert result.buckets[36].wait_p90 == 120  # censored where it left


def test_b11_nobody_online_assigns_the_main_accounts_offline_message_answered_when_it_comes():
    # given nobody until the main account comes online at 10:00 (B11 main_account)
    model = shop(agent(2))
    sim = run(model, [fc.Arrival(at=9 * H, handling=60)], roster(model, (10 * H, 1, ONLINE)))
    # then the buyer is the main account's from 09:00 and answered at 10:00, not greeted (D1)
    assert waits(sim) == [H + model.reply_seconds]


def test_b11_pool_hands_out_oldest_first_when_an_agent_comes_online():
    rules = engine.Settings(offline_handling=engine.OfflineHandling.POOL)
    model = shop(agent(2), rules=rules)
    arrivals = [fc.Arrival(at=9 * H, handling=60), fc.Arrival(at=9 * H + 5, handling=60)]
    sim = run(model, arrivals, roster(model, (10 * H, 2, ONLINE)))
    assert waits(sim) == [H, H - 5 + 60]  # the pool, oldest first, then the freed slot


def test_b11_pool_without_auto_assign_waits_for_a_claim_that_never_comes():
    rules = engine.Settings(offline_handling=engine.OfflineHandling.POOL)
    model = shop(agent(2), rules=rules, pool_auto_assign=False)
    sim = run(model, [fc.Arrival(at=9 * H, handling=60)], roster(model, (10 * H, 2, ONLINE)))
    assert sim.result().summary.unanswered == 1


def test_c6_a_returning_buyer_goes_back_to_its_agent_past_max():
    # given two agents of max 1; buyer 7 is served by agent 2, comes back within the window
    model = shop(agent(2), agent(3))
    arrivals = [
        fc.Arrival(at=9 * H, handling=60, buyer=7),
        fc.Arrival(at=9 * H + 61, handling=600, buyer=8),  # agent 2 (longest idle? both 0)
        fc.Arrival(at=9 * H + 120, handling=60, buyer=7),
    ]
    sim = run(model, arrivals, roster(model, (9 * H, 2, ONLINE), (9 * H, 3, ONLINE)))
    # then the returning buyer is answered at once by its agent, even at its max (C6) ...
    assert waits(sim)[2] == sim.shop.reply_seconds  # ... by a message: welcomed once a day (D1)
    assert sim.result().summary.queue_max == 0


def test_b5_even_rule_shares_buyers_by_weight():
    rules = engine.Settings(assignment_rule=engine.Rule.EVEN)
    model = shop(
        agent(2, weight=30, max_concurrent=50), agent(3, weight=10, max_concurrent=50), rules=rules
    )
    arrivals = [fc.Arrival(at=9 * H + n, handling=5000) for n in range(40)]
    plan = roster(model, (9 * H, 2, ONLINE), (9 * H, 3, ONLINE))
    sim = fc.Simulation(model, arrivals, plan, day_start=DAY)
    sim.run(until=9 * H + 60)
    assert sim.agent(2).open_count == 30 and sim.agent(3).open_count == 10


def test_b9a_going_offline_reroutes_to_the_front_of_the_queue():
    # given agent 2 holding a buyer and another waiting for agent 3, who is full
    model = shop(agent(2), agent(3))
    arrivals = [
        fc.Arrival(at=9 * H, handling=1000),  # to 2
        fc.Arrival(at=9 * H + 1, handling=300),  # to 3
        fc.Arrival(at=9 * H + 2, handling=50),  # waits
    ]
    plan = roster(model, (9 * H, 2, ONLINE), (9 * H, 3, ONLINE), (9 * H + 100, 2, OFFLINE))
    sim = run(model, arrivals, plan)
    # when 2 goes offline at 09:01:40, its buyer goes to the front of the queue, before the
    # one waiting since 09:00:02, and 3 takes it when free at 09:05:01
    assert sim.answered_at[2] - arrivals[2].at == 301 + 1000 - 2  # after the re-routed one
    assert sim.result().buckets[36].queue_max == 2


def test_c7_a_shift_ends_by_pausing_finishing_then_going_offline():
    model = shop(agent(2))
    arrivals = [fc.Arrival(at=9 * H + 3000, handling=1200), fc.Arrival(at=10 * H + 10, handling=5)]
    sim = run(model, arrivals, fc.compile_roster(model, [fc.Shift(9 * H, 10 * H, agent=2)], 86400))
    # its buyer of 09:50 is finished at 10:10 (not re-routed); the one of 10:00:10 finds
    # nobody to take it (paused agents take no new buyers) and it is not queued: B11, offline
    # main account, never answered
    assert sim.agent(2).status == OFFLINE
    result = sim.result()
    assert result.summary.answered == 1 and result.summary.unanswered == 1
    assert result.summary.agent_hours == 70 / 60  # 09:00 to 10:10


def test_the_welcome_off_first_response_is_the_agents_first_message():
    model = shop(agent(2), welcome=False, reply_seconds=45)
    sim = run(model, [fc.Arrival(at=9 * H, handling=600)], roster(model, (9 * H, 2, ONLINE)))
    assert waits(sim) == [45.0]


# ---------------------------------------------------------------------------------------------
# Rosters, arrivals, measures


def test_compile_roster_adds_counted_agents_and_merges_an_accounts_shifts():
    model = shop(agent(2), default_max=4, group_max=((9, 7),))
    plan = fc.compile_roster(
        model,
        [
            fc.Shift(8 * H, 12 * H, agent=2, max_concurrent=3),
            fc.Shift(11 * H, 14 * H, agent=2),
            fc.Shift(9 * H, 17 * H, count=2),
            fc.Shift(9 * H, 17 * H, count=1, group=9),
        ],
        86400,
    )
    by_id = {a.id: a for a in plan.agents}
    assert by_id[2].max_concurrent == 3
    added = [a for a in plan.agents if a.id >= fc.SYNTHETIC_BASE]
    assert [(a.max_concurrent, a.group_id) for a in added] == [(4, None), (4, None), (7, 9)]
    starts = [(c.at, c.agent, c.status) for c in plan.changes if c.agent == 2]
    assert starts == [(8 * H, 2, ONLINE), (14 * H, 2, None)]


def test_generated_arrivals_follow_the_curve_and_the_seed():
    curve = [0] * 9 + [10, 20] + [0] * 13
    first = fc.generate_arrivals(curve, fc.Handling(mean=300), random.Random(1), day_seconds=86400)
    again = fc.generate_arrivals(curve, fc.Handling(mean=300), random.Random(1), day_seconds=86400)
    assert first == again and len(first) == 30
    assert sum(1 for a in first if 9 * H <= a.at < 10 * H) == 10
    assert all(9 * H <= a.at < 11 * H for a in first)


def test_handling_distributions_have_their_means():
    rng = random.Random(2)
    for handling in (
        fc.Handling(fc.Distribution.EXPONENTIAL, mean=300),
        fc.Handling(fc.Distribution.LOGNORMAL, mean=300, sd=120),
        fc.Handling(fc.Distribution.FIXED, mean=300),
        fc.Handling(fc.Distribution.EMPIRICAL, values=(200.0, 400.0)),
    ):
        draws = [handling.sample(rng) for _n in range(20000)]
        assert abs(sum(draws) / len(draws) - 300) < 10, handling


def test_queue_curve_measures_a_recorded_queue_like_the_simulation():
    avg, peak = fc.queue_curve([(100, 550), (400, 1000), (1000, 1100)], 86400)
    assert avg[0] == (450 + 500) / 900 and peak[0] == 2
    assert avg[1] == (100 + 100) / 900 and peak[1] == 1  # the third joins as the second leaves


def test_a_fork_runs_on_without_changing_the_original():
    model = shop(agent(2))
    arrivals = [fc.Arrival(at=9 * H + n * 60, handling=100) for n in range(10)]
    sim = fc.Simulation(model, arrivals, roster(model, (9 * H, 2, ONLINE)), day_start=DAY)
    sim.run(until=9 * H + 150)

    def state(s: fc.Simulation) -> tuple[int, list[float | None], int]:
        answered = [None if math.isnan(x) else x for x in s.answered_at]
        return s.next_arrival, answered, len(s.queue)

    before = state(sim)
    fork = sim.fork()
    fork.run()
    assert state(sim) == before
    sim.run()
    assert state(sim) == state(fork)


def test_a_dst_day_has_its_own_number_of_buckets():
    assert fc.bucket_count(23 * H) == 92 and fc.bucket_count(25 * H) == 100


# ---------------------------------------------------------------------------------------------
# The suggestion


def test_the_suggestion_staffs_only_the_hours_with_buyers_and_meets_the_target():
    model = shop(default_max=2)
    curve = [0] * 10 + [20, 40] + [0] * 12
    arrivals = fc.generate_arrivals(
        curve, fc.Handling(mean=400), random.Random(5), day_seconds=86400
    )
    suggestion = fc.suggest(model, arrivals, day_start=DAY, target=0.9)
    assert suggestion.met
    counts = [sum(n for _line, n in hour.agents) for hour in suggestion.hours]
    assert counts[:10] == [0] * 10 and counts[12:] == [0] * 12
    assert 0 < counts[10] <= counts[11]
    assert all(h.rate_2min is None or h.rate_2min >= 0.9 for h in suggestion.hours)
    assert suggestion.staffed_hours == counts[10] + counts[11]


def test_the_suggestion_staffs_each_group_for_its_own_buyers():
    # given a VIP group and an open group (B4), a few VIP buyers and many others
    groups = (engine.Group(1, segments=frozenset({"vip"})), engine.Group(2))
    vip = engine.Request(segments=frozenset({"vip"}))
    rng = random.Random(3)
    arrivals = sorted(
        [fc.Arrival(at=9 * H + rng.uniform(0, H), handling=300, request=vip) for _n in range(10)]
        + [fc.Arrival(at=9 * H + rng.uniform(0, H), handling=300) for _n in range(40)],
        key=lambda a: a.at,
    )
    # without offline routing, VIP buyers need VIP agents (no widening, B9b: off)
    strict = fc.ShopModel(
        agents=(MAIN,),
        groups=groups,
        rules=engine.Settings(offline_routing=False),
        default_max=3,
    )
    suggestion = fc.suggest(strict, arrivals, day_start=DAY, target=0.8)
    assert suggestion.met
    staff = dict(suggestion.hours[9].agents)
    assert staff[1] >= 1 and staff[2] > staff[1]
    assert {s.group for s in suggestion.shifts} == {1, 2}
    # with it (the default), a VIP buyer with no VIP agent there widens to everyone (B9b), so
    # the open group's agents may cover both
    widening = replace(strict, rules=engine.Settings())
    cheaper = fc.suggest(widening, arrivals, day_start=DAY, target=0.8)
    assert cheaper.met and cheaper.staffed_hours <= suggestion.staffed_hours


def test_an_unreachable_target_is_reported_not_met():
    # private contacts go to the main account alone (B8), who is not on the roster
    model = shop()
    private = engine.Request(private_contact=True)
    arrivals = [fc.Arrival(at=9 * H + n * 60, handling=60, request=private) for n in range(5)]
    suggestion = fc.suggest(model, arrivals, day_start=DAY, target=0.8)
    assert not suggestion.met
    assert suggestion.forecast.summary.rate_2min == 0


# ---------------------------------------------------------------------------------------------
# Invariants over random days


@given(
    st.lists(st.tuples(st.floats(0, 6 * H), st.floats(1, 1800)), max_size=60),
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 6), st.integers(1, 4)), max_size=5),
    st.sampled_from(["wait_first", "newest_first"]),
    st.booleans(),
)
def test_the_figures_hold_together_on_any_day(buyers, shifts, order, pool):
    rules = engine.Settings(
        offline_handling=engine.OfflineHandling.POOL
        if pool
        else engine.OfflineHandling.MAIN_ACCOUNT
    )
    model = shop(rules=rules, queue_order=order, default_max=2)
    arrivals = [fc.Arrival(at=at, handling=handling) for at, handling in buyers]
    plan = fc.compile_roster(
        model,
        [fc.Shift(start * H, (start + length) * H, count=count) for start, length, count in shifts],
        86400,
    )
    sim = run(model, arrivals, plan)
    result = sim.result()
    s = result.summary
    assert s.answered + s.unanswered == s.arrivals == len(arrivals)
    assert s.answered_2min <= s.answered and s.left_queue == 0
    assert sum(b.arrivals for b in result.buckets) == len(arrivals)
    for b in result.buckets:
        assert b.queue_avg <= b.queue_max + 1e-9
        assert b.rate_2min is None or 0 <= b.rate_2min <= 1
        # C1: the queue is on, so no present agent holds more than its max (the main account
        # is off the roster: what it is given while offline is in nobody's present load)
        assert b.load is None or b.load <= 1 + 1e-9
    assert not sim.queue  # nobody waits at the end of a day whose shifts all ended (C3, B11)
    assert all(a.open_count == len(sim.held[a.id]) for a in sim.agents)
    assert timedelta(seconds=0) <= timedelta(seconds=s.agent_hours * H)
