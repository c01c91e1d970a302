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
