"""Routing scenarios from the source documents, through the services on the real database."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from apps.conversations.models import PrivateContact, State
from apps.events.models import Event


def test_seed002_q3_agent_at_max_queues_next_buyer_and_close_connects_it_at_once(desk):
    # SPEC C1, C3. given an agent with max concurrent 1 holding a buyer
    desk.settings(default_max_concurrent=1)
    desk.status(desk.kit.main, "offline")
    a = desk.agent("a1")
    first = desk.ask("b1")
    assert first.state == State.ACTIVE and first.agent_id == a.pk
    # when a second buyer asks for a human
    second = desk.ask("b2")
    # then it waits in the queue
    assert second.state == State.QUEUED
    # when the agent ends the first conversation
    desk.close(first, a)
    # then the waiting buyer is connected at once
    second = desk.fresh(second)
    assert second.state == State.ACTIVE and second.agent_id == a.pk
    assert desk.load(a) == 1


def test_seed004_reentry_window_goes_to_same_agent_even_at_max(desk):
    # SPEC C6
    desk.settings(default_max_concurrent=1)
    a = desk.agent("a1")
    desk.agent("a2")
    c = desk.ask("b1")
    held_by = c.agent_id
    desk.close(c)
    other = desk.ask("b2")  # fills someone
    # the buyer comes back within 10 minutes
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        back = desk.ask("b1")
    assert back.state == State.ACTIVE and back.agent_id == held_by
    assert other.agent_id is not None
    del a


def test_seed004_window_zero_queues_when_full(desk):
    desk.settings(default_max_concurrent=1, reentry_window_seconds=0)
    desk.agent("a1")
    c = desk.ask("b1")
    desk.close(c)
    desk.ask("b2")
    back = desk.ask("b1")
    assert back.state == State.QUEUED


def test_seed001_all_subs_offline_and_main_paused_still_reaches_main(desk):
    # SPEC B10
    desk.agent("a1", status="offline")
    desk.status(desk.kit.main, "paused")
    c = desk.ask("b1")
    assert c.state == State.ACTIVE and c.agent_id == desk.kit.main.pk


def test_seed001_private_contact_only_ever_reaches_main_even_offline(desk):
    # SPEC B8
    desk.agent("a1")
    buyer = desk.buyer("vip")
    PrivateContact.objects.create(shop=desk.kit.shop, buyer=buyer)
    c = desk.ask(buyer)
    assert c.agent_id == desk.kit.main.pk and c.state == State.ACTIVE


def test_b9a_agent_going_offline_hands_conversations_to_colleague(desk):
    a = desk.agent("a1")
    c = desk.ask("b1")
    b = desk.agent("a2")
    assert c.agent_id == a.pk
    desk.status(a, "offline")
    c = desk.fresh(c)
    assert c.agent_id == b.pk and c.state == State.ACTIVE
    assert desk.load(a) == 0 and desk.load(b) == 1


def test_events_reach_buyer_and_agent_streams_in_order(desk):
    a = desk.agent("a1")
    c = desk.ask("b1")
    seqs = list(
        Event.objects.filter(recipient_kind="account", recipient_id=a.pk)
        .order_by("stream_seq")
        .values_list("stream_seq", "type")
    )
    assert [s for s, _ in seqs] == list(range(1, len(seqs) + 1))
    assert ("conversation.assigned") in [t for _, t in seqs]
    assert Event.objects.filter(recipient_kind="buyer", recipient_id=c.buyer_id).exists()
