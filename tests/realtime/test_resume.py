"""Resuming a stream (API.md, WebSockets; SPEC F3, N; DESIGN, events and delivery): a client that
comes back with ``?after=`` gets what it missed, in order, once; lost pushes are read back from
the outbox; a resend stores nothing twice; past the retention the client is told to resync."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from apps.conversations import lifecycle as conv
from apps.conversations.models import Message, Sender
from apps.events.models import Event
from apps.events.services import emit, to_account
from apps.events.tasks import delete_expired

from .conftest import sync, token_of, widget_token

pytestmark = pytest.mark.django_db(transaction=True)


def buyer_writes(conversation, count: int) -> None:
    for n in range(count):
        conv.message_create(conversation=conversation, sender=Sender.BUYER, body=f"buyer {n}")


def agent_writes(agent, conversation, count: int) -> None:
    for n in range(count):
        conv.agent_message_send(account=agent, conversation=conversation, body=f"agent {n}")


async def drain(socket, count: int) -> list[dict]:
    return [await socket.recv() for _ in range(count)]


async def test_agent_back_after_50_events_gets_exactly_those_50_in_order(desk_a, sockets):
    # SPEC F3, N: given an agent holding a conversation, connected, who then drops
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    token = await sync(token_of)(agent)
    first = await sockets(f"/ws/agent/?token={token}")
    last_seen = first.hello["data"]["last_seq"]
    await first.close()

    # when 50 events happen meanwhile (the buyer writes 50 messages)
    await sync(buyer_writes)(conversation, 50)

    # then reconnecting with ?after gives exactly those 50, in order, then nothing more
    again = await sockets(f"/ws/agent/?token={token}&after={last_seen}")
    assert again.hello["data"]["last_seq"] == last_seen + 50
    frames = await drain(again, 50)
    assert [f["stream_seq"] for f in frames] == list(range(last_seen + 1, last_seen + 51))
    assert [f["data"]["body"] for f in frames] == [f"buyer {n}" for n in range(50)]
    assert await again.silent()
    # and live events follow on from there
    await sync(buyer_writes)(conversation, 1)
    live = await again.recv()
    assert live["stream_seq"] == last_seen + 51


async def test_buyer_back_after_50_events_gets_exactly_those_50_in_order(desk_a, sockets):
    # SPEC F3: after a dropped connection nothing is lost or doubled
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    first = await sockets(f"/ws/widget/?token={widget_token(buyer)}")
    last_seen = first.hello["data"]["last_seq"]
    await first.close()

    await sync(agent_writes)(agent, conversation, 50)

    again = await sockets(f"/ws/widget/?token={widget_token(buyer)}&after={last_seen}")
    frames = await drain(again, 50)
    assert [f["stream_seq"] for f in frames] == list(range(last_seen + 1, last_seen + 51))
    assert [f["data"]["body"] for f in frames] == [f"agent {n}" for n in range(50)]
    assert await again.silent()


async def test_after_zero_replays_the_whole_stream_and_no_after_only_live_events(desk_a, sockets):
    # API.md: ?after=0 is the whole retained stream; without after, live events only
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    await sync(desk_a.ask)(buyer)
    token = await sync(token_of)(agent)
    stored = await sync(
        Event.objects.filter(recipient_kind="account", recipient_id=agent.pk).count
    )()

    everything = await sockets(f"/ws/agent/?token={token}&after=0")
    frames = await drain(everything, stored)
    assert [f["stream_seq"] for f in frames] == list(range(1, stored + 1))
    assert await everything.silent()

    live_only = await sockets(f"/ws/agent/?token={token}")
    assert live_only.hello["data"]["last_seq"] == stored
    assert await live_only.silent()


async def test_a_resend_with_the_same_client_id_stores_one_message(desk_a, sockets):
    # API.md: client_id makes a resend harmless; the sender gets the stored message back
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    agent_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    buyer_socket = await sockets(f"/ws/widget/?token={widget_token(buyer)}")
    frame = {"type": "message.send", "conversation": conversation.pk, "body": "hi"}

    await agent_socket.send({**frame, "client_id": "same"})
    first = await agent_socket.recv_until("ack")
    await agent_socket.send({**frame, "client_id": "same"})
    second = await agent_socket.recv_until("ack")
    await buyer_socket.send({**frame, "body": "hello", "client_id": "same"})
    await buyer_socket.recv_until("ack")
    await buyer_socket.send({**frame, "body": "hello", "client_id": "same"})
    buyer_second = await buyer_socket.recv_until("ack")

    assert first["data"]["created"] is True and second["data"]["created"] is False
    assert first["data"]["message"] == second["data"]["message"]
    assert buyer_second["data"]["created"] is False
    count = sync(Message.objects.filter(conversation=conversation, client_id="same").count)
    assert await count() == 2  # one from each side
    # and the buyer was told of the agent's message once
    await buyer_socket.ping()
    told = [f for f in buyer_socket.frames if f["type"] == "message.created"]
    assert [f["data"]["body"] for f in told].count("hi") == 1


def lost_push(agent_id: int, shop_id: int) -> None:
    """An event stored but whose push never reached Redis (as if the message was dropped)."""
    with transaction.atomic():
        emit(shop_id=shop_id, recipients=[to_account(agent_id)], type="monitor.updated", data={})
        transaction.get_connection().run_on_commit = []  # the push is lost


async def test_a_lost_push_is_read_from_the_outbox_before_the_next_event(desk_a, sockets):
    # DESIGN: if the next seq is not last + 1, the consumer reads the gap from the table first
    agent = await sync(desk_a.agent)("agent")
    socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    head = socket.hello["data"]["last_seq"]
    await sync(lost_push)(agent.pk, desk_a.kit.shop.pk)
    assert await socket.silent()

    buyer = await sync(desk_a.buyer)("buyer-1")
    await sync(desk_a.ask)(buyer)

    lost = await socket.recv()
    assert (lost["type"], lost["stream_seq"]) == ("monitor.updated", head + 1)
    assert (await socket.recv())["stream_seq"] == head + 2


async def test_a_lost_last_push_arrives_with_the_next_heartbeat(desk_a, sockets):
    # DESIGN: nothing is lost even when no later event shows the gap
    agent = await sync(desk_a.agent)("agent")
    socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    head = socket.hello["data"]["last_seq"]
    await sync(lost_push)(agent.pk, desk_a.kit.shop.pk)

    await socket.send({"type": "ping"})
    assert (await socket.recv())["stream_seq"] == head + 1
    assert (await socket.recv()) == {"type": "pong"}


async def test_a_client_older_than_the_retention_is_told_to_resync(desk_a, sockets, settings):
    # DESIGN: retention (a day by default); a client asking for deleted events gets resync
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    token = await sync(token_of)(agent)
    head = (await sockets(f"/ws/agent/?token={token}")).hello["data"]["last_seq"]

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        await sync(buyer_writes)(conversation, 2)
        deleted = await sync(delete_expired)()
    assert deleted >= head

    socket = await sockets(f"/ws/agent/?token={token}&after=1")
    resync = await socket.recv()
    assert resync == {"type": "resync", "data": {"last_seq": head + 2}}
    assert await socket.silent()
    # while a client that saw everything before the gap still resumes normally
    recent = await sockets(f"/ws/agent/?token={token}&after={head}")
    assert [(await recent.recv())["stream_seq"] for _ in range(2)] == [head + 1, head + 2]
    # and ?after=0 gives what is kept
    kept = await sockets(f"/ws/agent/?token={token}&after=0")
    assert [(await kept.recv())["stream_seq"] for _ in range(2)] == [head + 1, head + 2]
