"""SPEC I6 on the sockets (the real Redis channel layer): the buyer socket's refusals (the
message rate, a blocked word, a blocked buyer) are ``error`` frames with nothing stored, and the
agent socket delivers buyers' phone numbers masked to an account without ``view_buyer_info``."""

from __future__ import annotations

import pytest

from apps.accounts.permissions import Perm
from apps.conversations.models import Message, Sender
from apps.safety import services as safety
from apps.safety.models import WordAction

from .conftest import ORIGIN, refused, sync, token_of, widget_token

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "call me at 13812345678"
MASKED = "call me at 138****5678"


def buyer_bodies() -> list[str]:
    return list(
        Message.objects.filter(sender=Sender.BUYER).order_by("pk").values_list("body", flat=True)
    )


@pytest.fixture
async def chat(desk_a, sockets):
    """An agent (chat only) serving a buyer; both connected."""
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    conversation = await sync(desk_a.ask)(buyer)
    assert conversation.agent_id == agent.pk
    agent_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    buyer_socket = await sockets(f"/ws/widget/?token={widget_token(buyer)}")
    return {
        "agent": agent,
        "buyer": buyer,
        "conversation": conversation,
        "agent_socket": agent_socket,
        "buyer_socket": buyer_socket,
    }


def as_main(kit, method: str, url: str, body: dict | None = None):
    """A REST call of the shop's main account (sync: run it with ``sync``)."""
    return getattr(kit.client(kit.main), method)(url, body or {}, format="json")


def frame(body: str, client_id: str) -> dict:
    return {"type": "message.send", "body": body, "client_id": client_id}


async def test_the_buyer_socket_is_throttled_with_an_error_frame(chat, settings):
    settings.THROTTLE_BUYER_MESSAGES = "2/min"
    socket = chat["buyer_socket"]
    for n in range(2):
        await socket.send(frame(f"m{n}", f"c{n}"))
        assert (await socket.recv_until("ack"))["data"]["created"] is True
    await socket.send(frame("m2", "c2"))
    error = await socket.recv_until("error")
    assert "stream_seq" not in error
    assert error["data"]["code"] == "throttled"
    assert 1 <= error["data"]["retry_after"] <= 60
    assert error["data"]["request"] == {"type": "message.send", "client_id": "c2"}
    await socket.ping()  # still usable
    assert await sync(buyer_bodies)() == ["m0", "m1"]


async def test_a_blocked_word_on_the_socket_is_an_error_frame_and_stores_nothing(chat, desk_a):
    await sync(safety.sensitive_word_add)(
        actor=desk_a.kit.main, word="加微信", action=WordAction.BLOCK
    )
    socket = chat["buyer_socket"]
    await socket.send(frame("可以加微信吗", "c1"))
    error = await socket.recv_until("error")
    assert error["data"]["code"] == "sensitive_word"
    assert error["data"]["errors"]["body"] == [
        "The message contains “加微信”, which this shop does not allow."
    ]
    assert await sync(buyer_bodies)() == []
    await socket.send(frame("好的", "c2"))
    assert (await socket.recv_until("ack"))["data"]["message"]["body"] == "好的"


async def test_blocking_closes_the_buyers_socket_and_refuses_the_next(chat, desk_a):
    socket = chat["buyer_socket"]
    await sync(safety.buyer_block)(actor=desk_a.kit.main, external_id="buyer-1", reason="spam")
    error = await socket.recv_until("error")
    assert error["data"] == {
        "code": "blocked",
        "detail": "This shop's customer service is not available to you.",
    }
    closed = await socket.ws.receive_output(3)
    assert closed == {"type": "websocket.close", "code": 4403}
    assert await refused(f"/ws/widget/?token={widget_token(chat['buyer'])}", [ORIGIN])


async def test_the_agent_socket_masks_phone_numbers_without_the_permission(chat, desk_a, sockets):
    agent, agent_socket = chat["agent"], chat["agent_socket"]
    main_socket = await sockets(f"/ws/agent/?token={await sync(token_of)(desk_a.kit.main)}")
    conversation = chat["conversation"]
    watched = await sync(as_main)(
        desk_a.kit, "post", f"/api/v1/conversations/{conversation.pk}/watch/"
    )
    assert watched.status_code == 200, watched.content
    # When the buyer writes its phone number
    await chat["buyer_socket"].send(frame(PHONE, "c1"))
    ack = await chat["buyer_socket"].recv_until("ack")
    assert ack["data"]["message"]["body"] == PHONE  # the buyer's own copy as written
    # Then the agent (chat only) gets it masked, the watching main account whole
    got = await agent_socket.recv_until("message.created")
    assert got["data"]["body"] == MASKED
    assert (await main_socket.recv_message(PHONE))["data"]["body"] == PHONE
    # and a replay from the outbox is masked the same way
    last = got["stream_seq"] - 1
    again = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}&after={last}")
    assert (await again.recv_until("message.created"))["data"]["body"] == MASKED
    # the agent's own answer's ack too
    await agent_socket.send(
        {**frame("I will call 13812345678", "a1"), "conversation": conversation.pk}
    )
    assert (await agent_socket.recv_until("ack"))["data"]["message"]["body"] == (
        "I will call 138****5678"
    )

    # When the main account grants view_buyer_info, the open socket follows at once
    granted = await sync(as_main)(
        desk_a.kit,
        "patch",
        f"/api/v1/accounts/{agent.pk}/",
        {"permissions": [Perm.CHAT.value, Perm.VIEW_BUYER_INFO.value]},
    )
    assert granted.status_code == 200, granted.content
    await agent_socket.ping()
    await chat["buyer_socket"].send(frame("again 13812345678", "c2"))
    assert (await agent_socket.recv_message("again 13812345678"))["data"]["body"] == (
        "again 13812345678"
    )
