"""Every frame the two sockets send during the chat flows matches the event catalogue (issue 8
item 5; API.md, WebSockets): stream events are catalogue types with a ``stream_seq`` and data
valid against their schema; frames outside the stream are the protocol's own or a live
catalogue type (typing); any other type fails."""

from __future__ import annotations

from typing import Any

import pytest

from apps.conversations import events as catalogue
from apps.conversations import lifecycle as conv
from tests.events.test_catalogue import validate

from .conftest import Socket, sync, token_of, widget_token

pytestmark = pytest.mark.django_db(transaction=True)

PROTOCOL = {"hello", "pong", "ack", "error", "resync"}  # docs/realtime.md, the protocol


async def drain(socket: Socket) -> None:
    """Receive until the socket has been quiet for a moment."""
    while not await socket.silent(0.3):
        await socket.recv()


def check(frames: list[dict[str, Any]]) -> set[str]:
    types = set()
    for frame in frames:
        if "stream_seq" in frame:
            assert catalogue.CATALOGUE[frame["type"]].stored, frame
            validate(frame["type"], frame["data"])
        elif frame["type"] not in PROTOCOL:
            assert frame["type"] in catalogue.CATALOGUE, f"{frame['type']!r} is not catalogued"
            assert not catalogue.CATALOGUE[frame["type"]].stored, frame
            validate(frame["type"], frame["data"])
        types.add(frame["type"])
    return types


async def test_every_frame_of_a_chat_matches_the_catalogue(desk_a, sockets):
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    agent_socket = await sockets(f"/ws/agent/?after=0&token={await sync(token_of)(agent)}")
    buyer_socket = await sockets(f"/ws/widget/?after=0&token={widget_token(buyer)}")

    conversation = await sync(desk_a.ask)(buyer)
    await agent_socket.recv_until("conversation.assigned")
    await buyer_socket.send({"type": "message.send", "body": "hello?", "client_id": "b-1"})
    await agent_socket.recv_message("hello?")
    await agent_socket.send(
        {"type": "message.send", "conversation": conversation.pk, "body": "hi!", "client_id": "a"}
    )
    await buyer_socket.recv_message("hi!")
    await buyer_socket.send({"type": "typing"})
    await agent_socket.recv_until("typing")
    await agent_socket.send({"type": "typing", "conversation": conversation.pk})
    await buyer_socket.recv_until("typing")
    await agent_socket.send({"type": "typing", "conversation": "x"})  # an error frame
    await agent_socket.recv_until("error")
    await sync(conv.conversation_close)(conversation=conversation, actor=agent)
    await buyer_socket.recv_until("conversation.closed")
    for socket in (agent_socket, buyer_socket):
        await drain(socket)

    agent_types = check(agent_socket.frames)
    buyer_types = check(buyer_socket.frames)
    assert {"conversation.assigned", "message.created", "typing", "conversation.closed"} <= (
        agent_types
    )
    assert {"conversation.updated", "message.created", "typing", "conversation.closed"} <= (
        buyer_types
    )
    # the typing frames name the conversation and who types, the same shape both ways
    typing = [f for f in agent_socket.frames + buyer_socket.frames if f["type"] == "typing"]
    assert sorted(f["data"]["sender"] for f in typing) == ["agent", "buyer"]
    assert {f["data"]["conversation"] for f in typing} == {conversation.pk}
