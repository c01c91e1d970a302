"""``monitor.updated`` (SPEC G2; API.md: "whenever it changes, at most once a second"): pushed
after commit, coalesced per shop across processes (``apps.core.coalesce``), to the main account
and ``view_monitor`` accounts only, over ``/ws/monitor/`` without presence. Never a sleep: the
coalescer's clock is the test's, and an expired gate is one the test removed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings

from apps.accounts.permissions import Perm
from apps.conversations.events import MONITOR_TOPIC
from apps.core import coalesce
from apps.events.models import Event
from apps.metrics.board import board_push, forget_pushed
from apps.routing.models import AgentState
from tests.conversations.conftest import Desk
from tests.realtime.conftest import refused, token_of
from tests.support.coalesce import Clock, stepped


@pytest.fixture
def board(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[coalesce.Coalescer, Clock]]:
    """The board's coalescer, on, stepped by the test (tests/support/coalesce.py)."""
    with stepped(MONITOR_TOPIC, settings, monkeypatch) as found:
        yield found


def boards(desk: Desk) -> list[Event]:
    return list(Event.objects.filter(shop_id=desk.shop_id, type="monitor.updated").order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_two_changes_within_a_second_give_one_board_then_the_trailing_one(desk, board):
    # SPEC G2: at most one monitor.updated a second per shop, and the last change never lost
    coalescer, clock = board
    supervisor = desk.kit.sub("lead", {Perm.VIEW_MONITOR})
    agent = desk.agent("xiaowang", max_concurrent=1)
    forget_pushed(desk.shop_id)
    coalescer.step()  # what setting up the shop marked
    clock.now += 5
    coalescer.step()
    before = len(boards(desk))

    # when a buyer is assigned (t = 0)
    desk.ask("b1")
    assert coalescer.step() == [desk.shop_id]
    first = boards(desk)[before:]
    # then the main account and the view_monitor account get the board, the chat agent not
    assert sorted(e.recipient_id for e in first) == sorted([desk.kit.main.pk, supervisor.pk])
    assert first[0].payload["agents"][0]["open_conversations"] == 1
    assert first[0].payload["groups"][0]["waiting"] == 0

    # when two more buyers queue within the same second (t = 0.3, t = 0.6)
    clock.now += 0.3
    desk.ask("b2")
    assert coalescer.step() == []
    clock.now += 0.3
    desk.ask("b3")
    assert coalescer.step() == []
    # then nothing more yet, and the trailing board is due when the second is over
    assert len(boards(desk)) == before + 2
    due = coalescer.next_due()
    assert due is not None and clock.now < due <= clock.now + 0.4 + 1e-6

    # when the second is over (t = 1.0): the trailing board, with both waiting buyers
    clock.now = due
    assert coalescer.step() == [desk.shop_id]
    trailing = boards(desk)[before + 2 :]
    assert len(trailing) == 2
    assert trailing[0].payload["groups"][0]["waiting"] == 2
    # and nothing after it: no change, no board
    clock.now += 5
    assert coalescer.step() == []
    assert not Event.objects.filter(type="monitor.updated", recipient_id=agent.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_that_leaves_the_board_as_it_was_sends_nothing(desk, board):
    # "whenever it changes": a board that reads the same is not sent again
    coalescer, clock = board
    desk.agent("xiaowang")
    forget_pushed(desk.shop_id)
    coalescer.step()
    before = len(boards(desk))
    clock.now += 5
    coalescer.step({desk.shop_id})  # marked, but nothing moved
    assert len(boards(desk)) == before


@pytest.mark.django_db
def test_nothing_is_marked_while_pushes_are_off(desk, settings):
    # the suite's default (root conftest): no daemon thread in other tests' streams
    settings.HELPDESK_COALESCE_ENABLED = False
    coalescer = coalesce.coalescer(MONITOR_TOPIC)
    coalescer.take_marks()
    desk.agent("xiaowang")
    assert coalescer.take_marks() == set()


def test_two_processes_share_one_redis_gate_with_a_trailing_run():
    # Across processes: the gate is Redis's (SET NX PX 1000); a change counted before a run
    # started is covered by it, one counted after gets a trailing run once the gate expires.
    topic = f"test-{uuid.uuid4().hex[:8]}"
    ran: list[str] = []
    clock = Clock()
    one, two = (
        coalesce.Coalescer(
            topic, handler=lambda key, n=n: ran.append(n), autostart=False, clock=clock
        )
        for n in ("one", "two")
    )
    one.gate = two.gate = coalesce.RedisGate(django_settings.REDIS_URL)
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        # both processes count a change of shop 7; the first runs, covering both
        two.count({7})
        one.count({7})
        assert one.run_due() == [7]
        assert two.run_due() == []  # covered: no second run for the same changes
        assert two.next_due() is None
        # a change after that run, in the other process, within the second: it waits
        two.count({7})
        assert two.run_due() == []
        due = two.next_due()
        assert due is not None and 0 < due - clock.now <= 1.0
        # when the gate expires (removed here instead of waiting for it)
        client.delete(f"helpdesk:coalesce:{topic}:7:gate")
        clock.now = due
        assert two.run_due() == [7]
        assert ran == ["one", "two"]
        # and another shop has a gate of its own
        one.count({8})
        assert one.run_due() == [8]
    finally:
        for key in client.scan_iter(match=f"helpdesk:coalesce:{topic}:*"):
            client.delete(key)


@pytest.mark.django_db(transaction=True)
async def test_the_board_socket_is_for_monitors_and_carries_only_the_board(desk, board):
    # /ws/monitor/: the main account and view_monitor; the board only, no presence
    from channels.db import database_sync_to_async as sync

    from tests.realtime.conftest import ORIGIN, open_socket

    coalescer, clock = board
    agent = await sync(desk.agent)("xiaowang")
    assert await refused(f"/ws/monitor/?token={await sync(token_of)(agent)}", [ORIGIN])
    main = await open_socket(f"/ws/monitor/?token={await sync(token_of)(desk.kit.main)}")
    try:
        await sync(forget_pushed)(desk.shop_id)
        await sync(desk.ask)("b1")  # the main account's stream gets no other event here
        clock.now += 5
        assert await sync(coalescer.step)() == [desk.shop_id]
        frame = await main.recv()
        assert frame["type"] == "monitor.updated" and "stream_seq" in frame
        assert frame["data"]["today"]["conversations"] == 1
        await main.ping()
        assert all(f["type"] in ("monitor.updated", "pong") for f in main.frames)
        # and the socket is no presence: the main account stays offline
        state = await sync(AgentState.objects.get)(account=desk.kit.main)
        assert state.status == "offline" and state.last_seen_at is None
    finally:
        await main.close()


@pytest.mark.django_db
def test_a_failing_board_is_logged_and_the_coalescer_goes_on(desk, board, caplog):
    coalescer, _clock = board
    coalescer.step({999_999})  # no such shop: the handler fails, logged
    assert "coalesced monitor for 999999 failed" in caplog.text
    forget_pushed(desk.shop_id)
    assert board_push(desk.shop_id) is True  # and the next shop's board still goes out
