"""The query counts of the lifecycle's hot paths (issue 8, DESIGN: measure, then pin).

Each test builds a shop of ten agents first, so that a count that grew with the number of agents
or of waiting buyers would show. The limits are today's counts: a change that adds a query to a
hot path has to raise them here, on purpose. Asking for a human is two transactions (store the
request; decide it with the others pending, DESIGN) and counts both; closing counts the dispatch
that hands the freed slot to the first waiting buyer, with its welcome. The widget's first request
asking for a human at once (the burst of bench/widget_burst.py) is counted whole, HTTP included.

Statements, not round trips: a routing pass sends its lock with its reads, its welcome check with
the ids its messages take (one statement more than before, in the same round trip), and its
writes with its events and its COMMIT (apps.core.prepared: run_together, deferred_writes), so it
is four round trips whatever the number of buyers it decides (tests/core/test_deferred_writes.py
shows what each of those guarantees).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from apps.conversations import lifecycle
from apps.conversations.models import Conversation, State
from apps.routing.models import AgentStatus
from apps.shops.models import Shop
from tests.conversations.conftest import Desk
from tests.support.widget import widget_client

pytestmark = pytest.mark.django_db(transaction=True)

# A Monday, 10:00 in Shanghai (the default shop time zone): inside the default business hours,
# whatever the hour the suite runs at (outside them D2's off-hours check adds a query to a
# buyer's message).
T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _business_hours() -> Iterator[None]:
    with time_machine.travel(T0, tick=True):
        yield


@pytest.fixture
def busy(desk: Desk) -> Desk:
    for n in range(10):
        desk.agent(f"a{n}", max_concurrent=2)
    for n in range(24):  # 20 slots: 4 waiting buyers left in the queue afterwards
        desk.ask(f"warm{n}")
    return desk


def test_ask_for_a_human(busy: Desk, django_assert_max_num_queries: Any) -> None:
    buyer = busy.buyer("fresh")
    conversation = lifecycle.conversation_open(buyer=buyer)
    # the pass sends D1's check of today's welcomes with its lock, before it knows that nobody
    # is free (then it needs none): a statement more, in the same round trip
    with django_assert_max_num_queries(17):
        lifecycle.request_human(conversation=conversation)


def _active(desk: Desk) -> Conversation:
    return (
        Conversation.objects.filter(shop_id=desk.shop_id, state=State.ACTIVE)
        .select_related("buyer", "agent")
        .first()
    )


def test_buyer_message(busy: Desk, django_assert_max_num_queries: Any) -> None:
    # BEGIN, the conversation locked with the shop's settings, its agent's presence and (with a
    # client_id) whether it is a resend; the message with the conversation; the events; COMMIT
    conversation = _active(busy)
    with django_assert_max_num_queries(5):
        lifecycle.buyer_message_send(buyer=conversation.buyer, entrance="", body="hello?")
    with django_assert_max_num_queries(5):
        lifecycle.buyer_message_send(
            buyer=conversation.buyer, entrance="", body="again", client_id="c-1"
        )


def test_agent_message(busy: Desk, django_assert_max_num_queries: Any) -> None:
    conversation = _active(busy)
    agent = conversation.agent
    assert agent is not None
    with django_assert_max_num_queries(5):
        lifecycle.agent_message_send(account=agent, conversation=conversation, body="hi")


def test_status_change(busy: Desk, django_assert_max_num_queries: Any) -> None:
    agent = busy.agent("late", status="offline", max_concurrent=3)
    with django_assert_max_num_queries(12):
        lifecycle.agent_set_status(account=agent, status=AgentStatus.ONLINE)


def test_close_with_dispatch(busy: Desk, django_assert_max_num_queries: Any) -> None:
    conversation = busy.ask("closer")
    assert conversation.state == State.QUEUED
    held = busy.fresh(busy.ask("warm0"))
    with django_assert_max_num_queries(18):
        lifecycle.conversation_close(conversation=held, actor=None)


def test_widget_asks_for_a_human_at_once(busy: Desk, django_assert_max_num_queries: Any) -> None:
    # The burst's request (bench/widget_burst.py): a new buyer's first POST asks for a human.
    # The conversation stores the request with itself; the deciding pass answers it back.
    busy.agent("roomy", max_concurrent=5)
    shop = Shop.objects.get(pk=busy.shop_id)
    first, client = widget_client(shop, "first-http"), widget_client(shop, "fresh-http")
    # The process reserves the ids of its new conversations and greetings a block at a time (one
    # statement each, apps.core.prepared._ProcessReserve): a running server has some at hand.
    assert (
        first.post("/api/v1/widget/conversation/", {"human": True}, format="json").status_code
        == 200
    )
    # an assignment's agent counters ride with its welcome's statement, and the new conversation
    # is stored with its greeting in one statement (apps.core.prepared); the token's check read
    # that the buyer has no open conversation, so nothing looks for one again
    with django_assert_max_num_queries(16):
        response = client.post("/api/v1/widget/conversation/", {"human": True}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "active"
