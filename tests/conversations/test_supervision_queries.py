"""Supervision costs the hot paths nothing (SPEC I3, amended; SPEC N: query counts pinned): the
watchers of a conversation are read with its row, so a buyer's message to a watched
conversation runs exactly the statements of one to a conversation nobody watches, only its
events statement names more recipients (tests/conversations/test_query_counts.py pins the
count itself)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle
from apps.conversations.models import Conversation, State
from apps.conversations.supervision import conversation_watch
from apps.events.models import Event
from tests.conversations.conftest import Desk

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # inside business hours (test_query_counts.py)


@pytest.fixture(autouse=True)
def _business_hours() -> Iterator[None]:
    with time_machine.travel(T0, tick=True):
        yield


def _statements(conversation: Conversation, body: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        lifecycle.buyer_message_send(buyer=conversation.buyer, entrance="", body=body)
    return [q["sql"] for q in captured.captured_queries]


def test_a_buyer_message_to_a_watched_conversation_costs_no_query_more(desk: Desk):
    for n in range(3):
        desk.agent(f"a{n}", max_concurrent=2)
    for n in range(4):
        desk.ask(f"warm{n}")
    watched, unwatched = (
        Conversation.objects.filter(shop_id=desk.shop_id, state=State.ACTIVE)
        .select_related("buyer")
        .order_by("id")[:2]
    )
    supervisors = [desk.kit.main, desk.kit.sub("monitor", {Perm.VIEW_MONITOR})]
    for supervisor in supervisors:
        conversation_watch(conversation=watched, account=supervisor)
    _statements(unwatched, "warming up")  # the first run of a process compiles its statements
    _statements(watched, "warming up")

    plain = _statements(unwatched, "hello?")
    seen = _statements(watched, "hello?")

    assert len(seen) == len(plain) <= 5
    # and the watchers got the message, as the agent did
    for supervisor in supervisors:
        got = Event.objects.filter(
            recipient_kind="account", recipient_id=supervisor.pk, type="message.created"
        )
        assert [e.payload["body"] for e in got] == ["warming up", "hello?"]
