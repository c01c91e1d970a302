"""End to end across processes (SPEC N: several web processes side by side): two real uvicorn
servers on loopback share PostgreSQL and the Redis channel layer; the buyer's socket is on one,
the agent's on the other, and messages cross both ways, from sockets and from REST views."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from .servers import Server, server_database, server_redis, uvicorn_server

pytestmark = pytest.mark.slow

PASSWORD = "e2e-passphrase-2026"


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("servers")
    with (
        server_database() as database,
        server_redis() as redis_url,
        uvicorn_server(database, redis_url, logs / "one.log") as one,
        uvicorn_server(database, redis_url, logs / "two.log") as two,
    ):
        yield one, two


async def open_ws(server: Server, path: str) -> ClientConnection:
    return await connect(server.ws + path, origin=server.base, proxy=None, open_timeout=10)  # type: ignore[arg-type]


async def recv(ws: ClientConnection, type: str, timeout: float = 10) -> dict[str, Any]:
    """Frames up to the first of ``type``."""
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == type:
                return frame


async def recv_message(ws: ClientConnection, body: str) -> dict[str, Any]:
    while True:
        frame = await recv(ws, "message.created")
        if frame["data"]["body"] == body:
            return frame


def shop_with_a_waiting_agent(server: Server) -> tuple[str, str, int]:
    """A new shop whose main account is online and has a buyer: (staff token, buyer token,
    conversation id)."""
    slug = f"e2e-{uuid.uuid4().hex[:8]}"
    signup = server.api(
        "POST", "/api/v1/shops/", {"slug": slug, "name": "E2E", "password": PASSWORD}
    )
    staff = f"Token {signup['token']}"
    server.api("POST", "/api/v1/me/status/", {"status": "online"}, staff)
    secret = server.api("GET", "/api/v1/settings/", auth=staff)["widget_secret"]
    signature = hmac.new(secret.encode(), b"buyer-e2e", hashlib.sha256).hexdigest()
    session = server.api(
        "POST",
        "/api/v1/widget/session/",
        {"shop": slug, "buyer_id": "buyer-e2e", "signature": signature, "entrance": "product"},
    )
    buyer = f"Buyer {session['token']}"
    conversation = server.api("POST", "/api/v1/widget/conversation/", {"human": True}, buyer)
    assert conversation["state"] == "active", conversation
    return signup["token"], session["token"], conversation["id"]


async def test_buyer_and_agent_on_different_servers_chat_both_ways(two_servers):
    one, two = two_servers
    staff_token, buyer_token, conversation = await asyncio.to_thread(shop_with_a_waiting_agent, one)
    buyer = await open_ws(one, f"/ws/widget/?token={buyer_token}")
    agent = await open_ws(two, f"/ws/agent/?token={staff_token}")
    buyer_hello = await recv(buyer, "hello")
    await recv(agent, "hello")

    # the buyer writes over its socket on server one: the agent on server two receives it
    await buyer.send(
        json.dumps({"type": "message.send", "body": "你好, 在吗?", "client_id": "b-1"})
    )
    assert (await recv(buyer, "ack"))["data"]["created"] is True
    got = await recv_message(agent, "你好, 在吗?")
    assert got["data"]["sender"] == "buyer" and got["data"]["conversation"] == conversation

    # the agent answers over its socket on server two: the buyer on server one receives it
    await agent.send(
        json.dumps(
            {
                "type": "message.send",
                "conversation": conversation,
                "body": "在的",
                "client_id": "a-1",
            }
        )
    )
    assert (await recv(agent, "ack"))["data"]["message"]["body"] == "在的"
    assert (await recv_message(buyer, "在的"))["data"]["sender"] == "agent"

    # a REST view on server two (sync code) reaches the buyer's socket on server one
    await asyncio.to_thread(
        two.api,
        "POST",
        f"/api/v1/conversations/{conversation}/messages/",
        {"body": "订单已发货", "client_id": "a-2"},
        f"Token {staff_token}",
    )
    last = await recv_message(buyer, "订单已发货")

    # the buyer drops, misses three messages, and resumes on the other server
    await buyer.close()
    for n in range(3):
        await agent.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation": conversation,
                    "body": f"m{n}",
                    "client_id": f"r{n}",
                }
            )
        )
        await recv(agent, "ack")
    again = await open_ws(two, f"/ws/widget/?token={buyer_token}&after={last['stream_seq']}")
    await recv(again, "hello")
    missed = [await recv(again, "message.created") for _ in range(3)]
    assert [m["data"]["body"] for m in missed] == ["m0", "m1", "m2"]
    assert [m["stream_seq"] for m in missed] == [last["stream_seq"] + n for n in (1, 2, 3)]
    assert buyer_hello["data"]["buyer"]["external_id"] == "buyer-e2e"
    await again.close()
    await agent.close()
