"""Who receives what (API.md, WebSockets; SPEC N): events reach only the account or buyer they
are for, whichever socket they hold, on the real Redis channel layer."""

from __future__ import annotations

import pytest

from apps.conversations.models import Message

from .conftest import sync, token_of, widget_token

pytestmark = pytest.mark.django_db(transaction=True)


async def test_assignment_and_its_messages_reach_the_assigned_agent_only(desk_a, desk_b, sockets):
    # SPEC B5, F3: given two agents of shop A (one paused, so routing picks the other), an agent
    # of shop B, the buyer who asks, another buyer of shop A and a buyer of shop B, all connected
    chosen = await sync(desk_a.agent)("chosen")
    colleague = await sync(desk_a.agent)("colleague", status="paused")
    stranger = await sync(desk_b.agent)("stranger")
    buyer = await sync(desk_a.buyer)("buyer-1")
    other_buyer = await sync(desk_a.buyer)("buyer-2")
    foreign_buyer = await sync(desk_b.buyer)("buyer-1")
    agent_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(chosen)}")
    colleague_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(colleague)}")
    stranger_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(stranger)}")
    buyer_socket = await sockets(f"/ws/widget/?token={widget_token(buyer)}")
    other_buyer_socket = await sockets(f"/ws/widget/?token={widget_token(other_buyer)}")
    foreign_socket = await sockets(f"/ws/widget/?token={widget_token(foreign_buyer)}")

    # when the buyer asks for a human
    conversation = await sync(desk_a.ask)(buyer)
    assert conversation.agent_id == chosen.pk

    # then the chosen agent is told, with a stream_seq, and the buyer sees the new state
    assigned = await agent_socket.recv_until("conversation.assigned")
    assert assigned["data"]["id"] == conversation.pk
    assert assigned["stream_seq"] == agent_socket.hello["data"]["last_seq"] + 1
    updated = await buyer_socket.recv_until("conversation.updated")
    assert updated["data"]["state"] == "active"

    # when they write to each other over their sockets
    await buyer_socket.send(
        {
            "type": "message.send",
            "conversation": conversation.pk,
            "body": "在吗?",
            "client_id": "b1",
        }
    )
    ack = await buyer_socket.recv_until("ack")
    assert ack["data"]["created"] is True
    got = await agent_socket.recv_message("在吗?")
    assert got["data"]["sender"] == "buyer"
    await agent_socket.send(
        {"type": "message.send", "conversation": conversation.pk, "body": "在的", "client_id": "a1"}
    )
    assert (await agent_socket.recv_until("ack"))["data"]["message"]["body"] == "在的"
    got = await buyer_socket.recv_message("在的")
    assert got["data"]["sender"] == "agent"
    # the sender's own connections get the message too (API.md)
    await agent_socket.recv_message("在的")

    # then every other socket received nothing at all
    for other in (colleague_socket, stranger_socket, other_buyer_socket, foreign_socket):
        assert await other.silent(), other.frames
    # and the stream numbers of each connection have no gaps
    for socket in (agent_socket, buyer_socket):
        seqs = [f["stream_seq"] for f in socket.frames if "stream_seq" in f]
        first = socket.hello["data"]["last_seq"] + 1
        assert seqs == list(range(first, first + len(seqs)))
    assert await sync(Message.objects.filter(conversation=conversation).count)() >= 3


async def test_typing_reaches_the_other_side_without_a_stream_seq(desk_a, sockets):
    # API.md: typing frames are outside the stream, for a conversation the sender may write in
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    agent_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    buyer_socket = await sockets(f"/ws/widget/?token={widget_token(buyer)}")

    await buyer_socket.send({"type": "typing", "conversation": conversation.pk})
    typing = await agent_socket.recv_until("typing")
    assert typing == {
        "type": "typing",
        "data": {"conversation": conversation.pk, "sender": "buyer"},
    }
    await agent_socket.send({"type": "typing", "conversation": conversation.pk})
    typing = await buyer_socket.recv_until("typing")
    assert "stream_seq" not in typing and typing["data"]["sender"] == "agent"


async def test_one_agent_with_two_tabs_gets_every_event_in_both(desk_a, sockets):
    # API.md: stream_seq is per account, so both tabs see the same numbers
    agent = await sync(desk_a.agent)("agent")
    token = await sync(token_of)(agent)
    first = await sockets(f"/ws/agent/?token={token}")
    second = await sockets(f"/ws/agent/?token={token}")
    buyer = await sync(desk_a.buyer)("buyer-1")
    await sync(desk_a.ask)(buyer)
    one = await first.recv_until("conversation.assigned")
    two = await second.recv_until("conversation.assigned")
    assert one == two
