"""Several web processes share one shop's passes through its lock (issue 8 item 3, DESIGN:
short critical sections): a pass also answers the request threads of its process whose
requests another process's pass decided, so that none of them leads a pass of its own to find
out, nor reads its conversation alone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.conversations import lifecycle as conv
from apps.conversations.api.views import conversation_data
from apps.conversations.lifecycle import transitions
from apps.conversations.models import State

pytestmark = pytest.mark.django_db


def test_a_pass_answers_the_waiting_requests_another_process_decided(desk):
    # given two agents, and a buyer whose request another process's pass decided already
    a = desk.agent("a", max_concurrent=5)
    desk.agent("b", max_concurrent=5)
    elsewhere = conv.conversation_open(buyer=desk.buyer("b1"), human=True)
    transitions.route_pending(shop_id=desk.shop_id)
    # and a second buyer's request, stored after that pass
    mine = conv.conversation_open(buyer=desk.buyer("b2"), human=True)
    assert mine.state == State.ASSISTANT
    # when this process's pass runs while both buyers' threads wait for it
    waiting = frozenset({elsewhere.pk, mine.pk})
    with CaptureQueriesContext(connection) as queries:
        decided = transitions._route_pending(desk.shop_id, timezone.now(), waiting=waiting)
    # then both are answered: the one it decided, and the other as the database has it, with
    # its buyer read along (the answer's payload needs no query more)
    assert set(decided) == {elsewhere.pk, mine.pk}
    assert decided[mine.pk].state == State.ACTIVE
    stored = desk.fresh(elsewhere)
    assert decided[elsewhere.pk].state == stored.state == State.ACTIVE
    assert decided[elsewhere.pk].agent_id == stored.agent_id in {a.pk, decided[mine.pk].agent_id}
    with CaptureQueriesContext(connection) as after:
        assert decided[elsewhere.pk].buyer.external_id == "b1"
    assert len(after) == 0
    # and the pass asked once which waiting requests were decided elsewhere
    assert len([q for q in queries if ELSEWHERE in q["sql"]]) == 1


def test_a_lone_request_asks_nothing_more(desk):
    # given one agent and one buyer whose thread alone waits for the pass
    desk.agent("a", max_concurrent=5)
    mine = conv.conversation_open(buyer=desk.buyer("b1"), human=True)
    # when its pass runs, then it does not ask which waiting requests were decided elsewhere
    with CaptureQueriesContext(connection) as queries:
        decided = transitions._route_pending(
            desk.shop_id, timezone.now(), waiting=frozenset({mine.pk})
        )
    assert decided[mine.pk].state == State.ACTIVE
    assert not [q for q in queries if ELSEWHERE in q["sql"]]


ELSEWHERE = "AND NOT (state = "


def test_queued_requests_decided_elsewhere_are_answered_with_their_figures(desk):
    # given one agent taking one buyer, and two buyers another process's pass queued (C5)
    desk.agent("a", max_concurrent=1)
    first = conv.conversation_open(buyer=desk.buyer("b0"), human=True)
    queued = [conv.conversation_open(buyer=desk.buyer(f"b{n}"), human=True) for n in (1, 2)]
    transitions.route_pending(shop_id=desk.shop_id)
    assert [desk.fresh(c).state for c in [first, *queued]] == [State.ACTIVE, *[State.QUEUED] * 2]
    # and a third buyer's request, stored after that pass
    mine = conv.conversation_open(buyer=desk.buyer("b3"), human=True)
    # when this process's pass runs while the three queued buyers' threads wait for it
    waiting = frozenset({mine.pk, *(c.pk for c in queued)})
    decided = transitions._route_pending(desk.shop_id, timezone.now(), waiting=waiting)
    # then each answer carries its own place in the queue, with no query more
    with CaptureQueriesContext(connection) as after:
        places = [conversation_data(decided[c.pk])["queue"] for c in [*queued, mine]]
    assert len(after) == 0
    assert [p["position"] for p in places] == [1, 2, 3]
