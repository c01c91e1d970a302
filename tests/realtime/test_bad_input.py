"""Bad input over the sockets (SPEC N: a clear error, nothing changed; API.md, WebSockets): each
gets an ``error`` frame without a stream_seq, the connection stays usable, nothing is stored. A
handshake from a foreign Origin is refused with 403."""

from __future__ import annotations

import json

import pytest

from apps.conversations.models import Message
from apps.events.models import Event

from .conftest import ORIGIN, refused, sync, token_of, widget_token

pytestmark = pytest.mark.django_db(transaction=True)


def counts() -> tuple[int, int]:
    return Message.objects.count(), Event.objects.count()


async def assert_error_and_still_usable(socket, code: str) -> dict:
    error = await socket.recv_until("error")
    assert "stream_seq" not in error
    assert error["data"]["code"] == code, error
    await socket.ping()
    return error


@pytest.fixture
async def scene(desk_a, desk_b, sockets):
    """Shop A: an agent holding a conversation, a colleague holding another; shop B: one too."""
    agent = await sync(desk_a.agent)("agent")
    mine = await sync(desk_a.ask)(await sync(desk_a.buyer)("buyer-1"))
    await sync(desk_a.agent)("colleague")
    # the colleague is less loaded now, so it gets the next buyer
    theirs = await sync(desk_a.ask)(await sync(desk_a.buyer)("buyer-2"))
    await sync(desk_b.agent)("stranger")
    foreign = await sync(desk_b.ask)(await sync(desk_b.buyer)("buyer-1"))
    assert theirs.agent_id != agent.pk
    socket = await sockets(f"/ws/agent/?token={await sync(token_of)(agent)}")
    return {"socket": socket, "mine": mine, "theirs": theirs, "foreign": foreign}


@pytest.mark.parametrize(
    "frame, code",
    [
        ("{not json", "invalid"),
        ("[1, 2]", "unknown_type"),
        (json.dumps({"type": "nonsense"}), "unknown_type"),
        (json.dumps({"type": "message.send", "conversation": "x", "body": "hi"}), "invalid"),
        (json.dumps({"type": "message.send", "body": "hi"}), "invalid"),
        ("x" * 70_000, "too_large"),
        # issue 12: nested 1,000 deep (2 KB) dropped the connection without a close frame
        ("[" * 1000 + "]" * 1000, "invalid"),
        (json.dumps({"type": "message.send", "body": "hi", "x": list(range(5000))}), "invalid"),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "unknown-type",
        "bad-id",
        "no-id",
        "oversize-frame",
        "nested-1000-deep",
        "overlong-list",
    ],
)
async def test_malformed_frames_get_an_error_and_change_nothing(scene, frame: str, code: str):
    socket = scene["socket"]
    before = await sync(counts)()
    await socket.ws.send_to(frame)
    await assert_error_and_still_usable(socket, code)
    assert await sync(counts)() == before


@pytest.mark.parametrize(
    "frame, code",
    [
        ("[" * 1000 + "]" * 1000, "invalid"),
        (json.dumps({"type": "message.send", "body": "hi", "x": list(range(5000))}), "invalid"),
        # 100,000 entries are beyond the frame's size before they are beyond the list's length
        (json.dumps({"type": "message.send", "x": list(range(100_000))}), "too_large"),
    ],
    ids=["nested-1000-deep", "overlong-list", "list-of-100000"],
)
async def test_the_widget_socket_answers_bad_json_with_an_error_frame(
    desk_a, sockets, frame: str, code: str
):
    # issue 12: the same frames on the buyer's socket, an error frame and not a dropped
    # connection; nothing stored
    await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    await sync(desk_a.ask)(buyer)
    socket = await sockets(f"/ws/widget/?token={widget_token(buyer)}")
    before = await sync(counts)()
    await socket.ws.send_to(frame)
    await assert_error_and_still_usable(socket, code)
    assert await sync(counts)() == before


async def test_oversize_body_is_refused_with_the_field_named(scene):
    # API.md errors: the field is named; nothing stored
    socket = scene["socket"]
    before = await sync(counts)()
    await socket.send(
        {
            "type": "message.send",
            "conversation": scene["mine"].pk,
            "body": "长" * 5001,
            "client_id": "c-1",
        }
    )
    error = await assert_error_and_still_usable(socket, "invalid")
    assert "body" in error["data"]["errors"]
    assert error["data"]["request"] == {"type": "message.send", "client_id": "c-1"}
    assert await sync(counts)() == before


async def test_another_shops_conversation_answers_not_found(scene):
    # SPEC A1: a foreign id is missing, never forbidden, never data
    socket = scene["socket"]
    before = await sync(counts)()
    for kind in ("message.send", "typing"):
        await socket.send({"type": kind, "conversation": scene["foreign"].pk, "body": "hi"})
        await assert_error_and_still_usable(socket, "not_found")
    assert await sync(counts)() == before


async def test_a_conversation_the_agent_does_not_hold_is_refused(scene, shop_a):
    # A colleague's conversation: not visible to this agent (SPEC E6), so not found; one it can
    # see but no longer holds (closed) is a conflict
    socket = scene["socket"]
    before = await sync(counts)()
    await socket.send({"type": "message.send", "conversation": scene["theirs"].pk, "body": "x"})
    await assert_error_and_still_usable(socket, "not_found")
    from apps.conversations.lifecycle import conversation_close

    await sync(conversation_close)(conversation=scene["mine"], actor=None)
    before = await sync(counts)()
    await socket.send({"type": "message.send", "conversation": scene["mine"].pk, "body": "x"})
    await assert_error_and_still_usable(socket, "conflict")
    await socket.send({"type": "typing", "conversation": scene["mine"].pk})
    await assert_error_and_still_usable(socket, "conflict")
    assert await sync(counts)() == before


async def test_a_buyer_cannot_write_into_another_buyers_conversation(desk_a, sockets):
    agent = await sync(desk_a.agent)("agent")
    other = await sync(desk_a.ask)(await sync(desk_a.buyer)("buyer-2"))
    buyer = await sync(desk_a.buyer)("buyer-1")
    socket = await sockets(f"/ws/widget/?token={widget_token(buyer)}")
    before = await sync(counts)()
    await socket.send({"type": "message.send", "conversation": other.pk, "body": "hi"})
    await assert_error_and_still_usable(socket, "not_found")
    # and typing without an agent is refused, not relayed
    await socket.send({"type": "typing"})
    await assert_error_and_still_usable(socket, "conflict")
    assert await sync(counts)() == before
    assert agent.pk


async def test_a_bad_after_is_refused_with_an_error(desk_a):
    agent = await sync(desk_a.agent)("agent")
    from .conftest import WebsocketCommunicator, application

    ws = WebsocketCommunicator(
        application, f"/ws/agent/?token={await sync(token_of)(agent)}&after=-1", headers=[ORIGIN]
    )
    connected, _ = await ws.connect()
    assert connected
    error = await ws.receive_json_from()
    assert error["type"] == "error" and "after" in error["data"]["errors"]
    assert (await ws.receive_output())["code"] == 4400


@pytest.mark.parametrize(
    "origin", [b"https://evil.example", b"http://127.0.0.1.evil.example", b"null", None]
)
async def test_foreign_origins_are_refused_at_the_handshake(desk_a, origin):
    # API.md: a handshake from an Origin that is not allowed is refused with 403
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    headers = [] if origin is None else [(b"origin", origin)]
    assert await refused(f"/ws/agent/?token={await sync(token_of)(agent)}", headers)
    assert await refused(f"/ws/widget/?token={widget_token(buyer)}", headers)


async def test_the_widget_accepts_the_shops_own_widget_origins(desk_a, desk_b, sockets):
    # API.md: the widget's socket also accepts the shop's widget_origins, and only its own shop's
    await sync(desk_a.settings)(widget_origins=["https://shop-a.example"])
    await sync(desk_b.settings)(widget_origins=["https://shop-b.example"])
    buyer = await sync(desk_a.buyer)("buyer-1")
    agent = await sync(desk_a.agent)("agent")
    own = [(b"origin", b"https://shop-a.example")]
    await sockets(f"/ws/widget/?token={widget_token(buyer)}", own)
    assert await refused(
        f"/ws/widget/?token={widget_token(buyer)}", [(b"origin", b"https://shop-b.example")]
    )
    # staff sockets accept ALLOWED_HOSTS only
    assert await refused(f"/ws/agent/?token={await sync(token_of)(agent)}", own)
    # and a widget socket without a valid buyer token never opens
    assert await refused("/ws/widget/?token=forged", [ORIGIN])
