"""The agent socket /ws/agent/ on the real Redis channel layer (SPEC A3; API.md, WebSockets).

Transactional: the consumer reads the database from other threads, and the close on disabling is
sent once the disabling transaction has committed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.backoffice import services as account_services
from apps.conversations.consumers.agent import CLOSE_REVOKED
from apps.routing.models import AgentState
from config.asgi import application
from tests.support.websocket import WebsocketCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED_ORIGIN = (b"origin", b"http://127.0.0.1")


@dataclass
class Agent:
    account: Account
    token: str
    admin: APIClient  # the shop's main account, to disable or reset it


@pytest.fixture
def agent(shop_a) -> Agent:
    account = shop_a.sub("agent1")
    return Agent(account=account, token=account_services.token_for(account), admin=shop_a.client())


async def open_socket(
    query: str = "", headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[WebsocketCommunicator, bool]:
    socket = WebsocketCommunicator(
        application, f"/ws/agent/{query}", headers=[ALLOWED_ORIGIN] if headers is None else headers
    )
    connected, _code = await socket.connect()
    return socket, connected


async def test_agent_socket_says_hello_and_answers_ping(agent: Agent):
    # API.md WebSockets: hello on connect, pong to ping (a presence heartbeat)
    socket, connected = await open_socket(f"?token={agent.token}")
    assert connected
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello"
    assert "stream_seq" not in hello
    # opening the socket was the first heartbeat (the next pings write it at most every third
    # of the grace: tests/realtime/test_presence.py)
    state = await database_sync_to_async(AgentState.objects.get)(account=agent.account)
    assert state.last_seen_at is not None
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    state = await database_sync_to_async(AgentState.objects.get)(account=agent.account)
    assert state.status == "offline"  # a socket never changes the status the agent chose
    await socket.disconnect()


async def test_unknown_frame_gets_an_error_not_a_disconnect(agent: Agent):
    socket, _ = await open_socket(f"?token={agent.token}")
    await socket.receive_json_from()
    await socket.send_to(text_data="not json")
    error = await socket.receive_json_from()
    assert error["type"] == "error"
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    await socket.disconnect()


async def test_browser_session_opens_the_socket(agent: Agent):
    # API.md WebSockets: the session cookie authenticates too
    browser = APIClient()
    await sync_to_async(browser.force_login)(agent.account)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    socket, connected = await open_socket(headers=[ALLOWED_ORIGIN, (b"cookie", cookie)])
    assert connected
    assert (await socket.receive_json_from())["type"] == "hello"
    await socket.disconnect()


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-token"])
async def test_socket_without_a_valid_token_is_refused_at_the_handshake(agent: Agent, query: str):
    # API.md WebSockets: unauthenticated sockets never open
    socket, connected = await open_socket(query)
    assert not connected
    await socket.disconnect(timeout=0.1)


@pytest.mark.parametrize(
    "headers",
    [[(b"origin", b"https://evil.example")], [(b"origin", b"http://127.0.0.1.evil.example")], []],
)
async def test_socket_from_a_foreign_origin_is_refused(
    agent: Agent, headers: list[tuple[bytes, bytes]]
):
    # API.md WebSockets: staff sockets accept the hosts of ALLOWED_HOSTS only
    socket, connected = await open_socket(f"?token={agent.token}", headers=headers)
    assert not connected
    await socket.disconnect(timeout=0.1)


async def test_disabling_a_sub_account_closes_its_open_socket(shop_a, agent: Agent):
    # SPEC A3: its websockets end at once
    colleague = await database_sync_to_async(shop_a.sub)("agent2")
    colleague_token = await database_sync_to_async(account_services.token_for)(colleague)
    socket, _ = await open_socket(f"?token={agent.token}")
    other, _ = await open_socket(f"?token={colleague_token}")
    await socket.receive_json_from()
    await other.receive_json_from()
    # when the main account disables it through the API
    response = await sync_to_async(agent.admin.patch)(
        f"/api/v1/accounts/{agent.account.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    # then its socket is closed with 4403, and a colleague's stays open
    closed = await socket.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_REVOKED}
    assert await other.receive_nothing(timeout=0.2)
    # and it cannot come back with the same token
    again, connected = await open_socket(f"?token={agent.token}")
    assert not connected
    await again.disconnect(timeout=0.1)
    await other.disconnect()


async def test_password_reset_closes_the_open_socket(agent: Agent):
    # SPEC A3: whoever knew the old password is out, sockets included
    socket, _ = await open_socket(f"?token={agent.token}")
    await socket.receive_json_from()
    response = await sync_to_async(agent.admin.post)(
        f"/api/v1/accounts/{agent.account.pk}/password/",
        {"password": "a-Valid-passw0rd!"},
        format="json",
    )
    assert response.status_code == 204
    closed = await socket.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_REVOKED}
