"""SPEC C1-C7 (queue), through the services on the real database."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from apps.conversations import lifecycle as conv
from apps.conversations.models import Sender, State
from apps.conversations.selectors import queue_figures, queue_list
from apps.routing.models import AgentState


def test_c1_most_specific_max_wins_account_over_group_over_shop(desk):
    desk.settings(default_max_concurrent=1)
    g = desk.group("g", max_concurrent=2)
    a = desk.agent("a", group=g)
    for i in range(2):
        assert desk.ask(f"g{i}").agent_id == a.pk
    assert desk.ask("g2").state == State.QUEUED
    AgentState.objects.filter(account=a).update(max_concurrent=3)
    from apps.conversations.lifecycle import capacity_changed

    capacity_changed(shop_id=desk.shop_id)  # max raised: the waiting buyer is taken (C3)
    assert desk.load(a) == 3


def test_c1_agent_raising_own_max_takes_next_waiting_buyer(desk, shop_a):
    desk.settings(default_max_concurrent=1)
    a = desk.agent("a")
    desk.ask("b1")
    waiting = desk.ask("b2")
    r = shop_a.client(a).patch("/api/v1/me/", {"max_concurrent": 2}, format="json")
    assert r.status_code == 200
    assert desk.fresh(waiting).agent_id == a.pk


def test_c2_queue_off_assigns_past_max(desk):
    desk.settings(default_max_concurrent=1, queue_mode="off")
    a = desk.agent("a")
    desk.ask("b1")
    c = desk.ask("b2")
    assert c.agent_id == a.pk and desk.load(a) == 2


def test_c2_queue_for_chosen_groups_only(desk):
    desk.settings(default_max_concurrent=1)
    q = desk.group("queued", scope_segments=["q"])
    n = desk.group("no-queue", scope_segments=["n"])
    desk.settings(queue_mode="groups", queue_groups=[q.pk])
    desk.agent("qa", group=q)
    na = desk.agent("na", group=n)
    desk.ask(desk.buyer("q1", segments=["q"]))
    assert desk.ask(desk.buyer("q2", segments=["q"])).state == State.QUEUED
    desk.ask(desk.buyer("n1", segments=["n"]))
    over = desk.ask(desk.buyer("n2", segments=["n"]))
    assert over.agent_id == na.pk and desk.load(na) == 2


def test_c3_queue_only_while_a_candidate_is_online_or_paused(desk):
    desk.settings(default_max_concurrent=1)
    a = desk.agent("a")
    desk.ask("b1")
    desk.status(a, "paused")
    assert desk.ask("b2").state == State.QUEUED
    desk.status(a, "offline")
    # everyone offline: B11 (main account offline message), not the queue
    assert desk.ask("b3").agent_id == desk.kit.main.pk


def test_c3_unpausing_takes_the_waiting_buyer(desk):
    a = desk.agent("a", status="paused")
    waiting = desk.ask("b1")
    assert waiting.state == State.QUEUED
    desk.status(a, "online")
    assert desk.fresh(waiting).agent_id == a.pk


def test_c3_queued_buyers_go_before_pooled_conversations(desk):
    desk.settings(default_max_concurrent=1, offline_handling="pool")
    a = desk.agent("a", status="offline")
    pooled = desk.ask("p1")  # nobody online or paused: the message pool (B11)
    desk.status(a, "paused")
    queued = desk.ask("q1")  # a paused candidate: the queue (C3)
    assert (pooled.state, queued.state) == (State.POOLED, State.QUEUED)
    # when the agent comes online with one free slot, the queued buyer gets it first
    desk.status(a, "online")
    assert desk.fresh(queued).agent_id == a.pk and desk.fresh(pooled).state == State.POOLED
    # and the pooled conversation follows when the slot frees
    desk.close(desk.fresh(queued), a)
    assert desk.fresh(pooled).agent_id == a.pk


def test_c4_wait_first_and_newest_first(desk):
    desk.settings(default_max_concurrent=1)
    a = desk.agent("a")
    head = desk.ask("b0")
    t0 = timezone.now()
    with time_machine.travel(t0 + timedelta(seconds=1)):
        first = desk.ask("b1")
    with time_machine.travel(t0 + timedelta(seconds=2)):
        second = desk.ask("b2")
    assert [c.pk for c in queue_list(shop_id=desk.shop_id)] == [first.pk, second.pk]
    desk.settings(queue_order="newest_first")
    assert [c.pk for c in queue_list(shop_id=desk.shop_id)] == [second.pk, first.pk]
    desk.close(head, a)
    assert desk.fresh(second).state == State.ACTIVE and desk.fresh(first).state == State.QUEUED


def test_c5_position_and_estimate(desk):
    # S = 2 online agents x max 1 = 2; average handling 600 s
    desk.settings(default_max_concurrent=1)
    desk.agent("a")
    desk.agent("b")
    desk.ask("b0")
    desk.ask("b1")
    waiting = [desk.ask(f"w{i}") for i in range(3)]
    figures = [queue_figures(desk.fresh(c)) for c in waiting]
    assert [(f.position, f.eta_seconds, f.hidden) for f in figures] == [  # type: ignore[union-attr]
        (1, 300, False),
        (2, 600, False),
        (3, 900, False),
    ]


def test_c5_figures_hidden_past_30_minutes(desk):
    desk.settings(default_max_concurrent=1, avg_handling_seconds=3600)
    desk.agent("a")
    desk.ask("b0")
    f = queue_figures(desk.ask("w1"))
    assert f is not None and f.hidden and f.as_dict()["position"] is None


def test_c5_leaving_queue_after_writing_becomes_offline_message(desk):
    desk.settings(default_max_concurrent=1)
    desk.agent("a")
    desk.ask("b0")
    c = desk.ask("w1")
    conv.message_create(conversation=c, sender=Sender.BUYER, body="还在吗")
    c = conv.conversation_leave(conversation=c)
    assert c.state == State.ACTIVE and c.agent_id == desk.kit.main.pk and c.from_offline_message


def test_c5_leaving_queue_without_writing_closes_as_buyer_left(desk):
    desk.settings(default_max_concurrent=1)
    desk.agent("a")
    desk.ask("b0")
    c = conv.conversation_leave(conversation=desk.ask("w1"))
    assert c.state == State.CLOSED and c.close_reason == "buyer_left"


def test_c6_reentry_with_agent_offline_goes_to_same_group(desk):
    g = desk.group("g", scope_segments=["s"])
    a = desk.agent("a", group=g)
    b = desk.agent("b", group=g, weight=1)
    desk.agent("other", weight=100)
    buyer = desk.buyer("b1", segments=["s"])
    c = desk.ask(buyer)
    assert c.agent_id == a.pk
    desk.close(c)
    desk.status(a, "offline")
    assert desk.ask(buyer).agent_id == b.pk


def test_c7_agent_going_offline_never_loses_a_buyer(desk):
    desk.settings(default_max_concurrent=1)
    a = desk.agent("a")
    b = desk.agent("b")
    c1 = desk.ask("b1")
    c2 = desk.ask("b2")
    desk.status(a, "offline")
    desk.status(b, "offline")
    for c in (c1, c2):
        c = desk.fresh(c)
        assert c.state in (State.ACTIVE, State.QUEUED, State.POOLED)
        assert c.agent_id == desk.kit.main.pk or c.state != State.ACTIVE


def test_c5_queue_updates_are_pushed_once_per_change(desk):
    from apps.conversations.tasks import queue_positions
    from apps.events.models import Event

    desk.settings(default_max_concurrent=1)
    a = desk.agent("a")
    head = desk.ask("b0")
    first = desk.ask("w1")
    second = desk.ask("w2")
    assert queue_positions() == 2
    assert queue_positions() == 0  # nothing changed: nothing sent
    desk.close(head, a)  # w1 is connected, w2 moves up
    assert queue_positions() == 1
    pushed = Event.objects.filter(
        recipient_kind="buyer", recipient_id=second.buyer_id, type="queue.updated"
    ).order_by("stream_seq")
    assert [e.payload["position"] for e in pushed] == [2, 1]
    assert desk.fresh(first).state == State.ACTIVE


def test_load_counters_match_conversations_after_a_busy_day(desk):
    from apps.conversations.lifecycle import load_drift

    desk.settings(default_max_concurrent=2)
    a = desk.agent("a")
    b = desk.agent("b")
    convs = [desk.ask(f"b{i}") for i in range(6)]
    desk.status(a, "offline")
    desk.close(desk.fresh(convs[0]))
    conv.conversation_leave(conversation=desk.fresh(convs[5]))
    desk.status(a, "online")
    del b
    assert load_drift(shop_id=desk.shop_id) == {}
