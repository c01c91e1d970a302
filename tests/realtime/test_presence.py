"""Presence over sockets (API.md, accounts and WebSockets; SPEC B9; DESIGN, presence): an agent is
present while one of its sockets is open and heartbeating; when the last one has been gone past
``offline_grace_seconds`` it goes offline and its conversations are re-routed. The clock is moved
with time-machine; the socket's own heartbeat timer uses the monotonic clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.conversations.tasks import presence_expire
from apps.events.consumers import CLOSE_HEARTBEAT
from apps.routing.models import AgentState, StatusChange
from apps.routing.presence import socket_write_seconds
from tests.support.queries import presence_writes, queries_in_all_threads

from .conftest import sync, token_of

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = 30


def status_of(account) -> str:
    return AgentState.objects.get(account=account).status


def holder(conversation) -> int | None:
    return Conversation.objects.get(pk=conversation.pk).agent_id


async def test_closed_socket_takes_the_agent_offline_after_the_grace_and_reroutes(desk_a, sockets):
    # SPEC B9a: presence lost past the grace period re-routes the agent's conversations
    await sync(desk_a.settings)(offline_grace_seconds=GRACE)
    leaving = await sync(desk_a.agent)("leaving")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    assert conversation.agent_id == leaving.pk
    colleague = await sync(desk_a.agent)("colleague")
    colleague_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(colleague)}")
    socket = await sockets(f"/ws/agent/?token={await sync(token_of)(leaving)}")

    with time_machine.travel(timezone.now(), tick=True) as clock:
        # when its only socket closes
        await socket.close()
        # then within the grace nothing changes
        clock.shift(timedelta(seconds=GRACE - 5))
        await colleague_socket.ping()  # the colleague's tab heartbeats as usual
        await sync(presence_expire)()
        assert await sync(status_of)(leaving) == "online"
        # and past it the agent is offline for "presence", and the buyer goes to the colleague
        clock.shift(timedelta(seconds=10))
        await colleague_socket.ping()
        assert await sync(presence_expire)() == 1
    assert await sync(status_of)(leaving) == "offline"
    reason = await sync(lambda: StatusChange.objects.filter(account=leaving).latest("at").reason)()
    assert reason == "presence"
    assert await sync(holder)(conversation) == colleague.pk
    assigned = await colleague_socket.recv_until("conversation.assigned")
    assert assigned["data"]["id"] == conversation.pk


async def test_a_second_open_tab_keeps_the_agent_online(desk_a, sockets):
    # DESIGN, presence: several tabs count as one; the one left open keeps heartbeating
    await sync(desk_a.settings)(offline_grace_seconds=GRACE)
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    token = await sync(token_of)(agent)
    first = await sockets(f"/ws/agent/?token={token}")
    second = await sockets(f"/ws/agent/?token={token}")

    with time_machine.travel(timezone.now(), tick=True) as clock:
        await first.close()
        for _ in range(3):  # well past the grace, with the other tab pinging as it does
            clock.shift(timedelta(seconds=GRACE // 2))
            await second.ping()
            await sync(presence_expire)()
    assert await sync(status_of)(agent) == "online"
    assert await sync(holder)(conversation) == agent.pk


async def test_a_socket_never_changes_the_status_the_agent_chose(desk_a, sockets):
    # API.md: a socket never changes the status an agent chose
    agent = await sync(desk_a.agent)("agent", status="paused")
    offline = await sync(desk_a.agent)("resting", status="offline")
    one = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    two = await sockets(f"/ws/agent/?token={await sync(token_of)(offline)}")
    await one.ping()
    await two.ping()
    await one.close()
    assert await sync(status_of)(agent) == "paused"
    assert await sync(status_of)(offline) == "offline"


async def test_a_silent_client_is_disconnected_after_missed_heartbeats(desk_a, sockets, settings):
    # Dead or stuck clients are closed (4408) instead of holding the server's memory
    settings.HELPDESK_WS_PING_SECONDS = 0.2
    agent = await sync(desk_a.agent)("agent")
    socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    assert socket.hello["data"]["ping_seconds"] == 0.2
    closed = await socket.ws.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_HEARTBEAT}


async def test_a_pinging_client_stays_connected(desk_a, sockets, settings):
    settings.HELPDESK_WS_PING_SECONDS = 0.2
    agent = await sync(desk_a.agent)("agent")
    socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    for _ in range(8):  # 1.6 s, three times the allowed silence
        await socket.ping()
        assert await socket.silent(timeout=0.2)


def last_seen(account):
    return AgentState.objects.get(account=account).last_seen_at


async def test_pings_inside_the_write_interval_cost_no_database_write(desk_a, sockets):
    # issue 8, item 4 (DESIGN, presence): a socket writes last_seen_at at most once per
    # min(grace / 3, 20 s); the pings in between run no presence query at all
    await sync(desk_a.settings)(offline_grace_seconds=GRACE)
    assert socket_write_seconds(GRACE) == 10
    agent = await sync(desk_a.agent)("agent")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
        opened = await sync(last_seen)(agent)  # opening the socket is a sign of life
        with queries_in_all_threads() as sql:
            for _ in range(4):  # 9 s of pings, each past the 5 s the old UPDATE skipped
                clock.shift(timedelta(seconds=2.25))
                await socket.ping()
        assert presence_writes(sql) == []
        assert sql, "the pings still check the stream's head"
        assert await sync(last_seen)(agent) == opened
        # the first ping past the interval writes, once
        clock.shift(timedelta(seconds=1.5))
        with queries_in_all_threads() as sql:
            await socket.ping()
        assert len(presence_writes(sql)) == 1
        assert await sync(last_seen)(agent) == timezone.now()


async def test_throttled_pings_keep_presence_and_silence_still_expires(desk_a, sockets):
    # SPEC B9a with cheap heartbeats: an agent pinging as told keeps presence across many grace
    # periods; one whose pings stop goes offline after the grace
    await sync(desk_a.settings)(offline_grace_seconds=GRACE)
    pinging = await sync(desk_a.agent)("pinging")
    silent = await sync(desk_a.agent)("silent")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        one = await sockets(f"/ws/agent/?token={await sync(token_of)(pinging)}")
        two = await sockets(f"/ws/agent/?token={await sync(token_of)(silent)}")
        every = one.hello["data"]["ping_seconds"]
        assert every == GRACE / 3
        for _ in range(12):  # four grace periods; the silent socket stays open but says nothing
            clock.shift(timedelta(seconds=every))
            await one.ping()
            await sync(presence_expire)()
            if await sync(status_of)(silent) == "offline":
                break
        expired_after = (timezone.now() - await sync(last_seen)(silent)).total_seconds()
        for _ in range(6):
            clock.shift(timedelta(seconds=every))
            await one.ping()
            await sync(presence_expire)()
    assert await sync(status_of)(pinging) == "online"
    assert await sync(status_of)(silent) == "offline"
    assert GRACE <= expired_after <= GRACE + every
    assert two.hello  # opened, then silent
