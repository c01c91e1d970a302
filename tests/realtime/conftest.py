"""Sockets against the real Redis channel layer and PostgreSQL (transactional: the consumers
read the database from other threads, and pushes go out when transactions commit)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.conversations import lifecycle as conv
from apps.conversations.buyers import buyer_token
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Conversation
from apps.routing.models import AgentStatus
from apps.shopdata.models import Buyer
from config.asgi import application
from conftest import ShopKit
from tests.support.websocket import WebsocketCommunicator

ORIGIN = (b"origin", b"http://127.0.0.1")


@dataclass
class Socket:
    """An open socket and the frames it received, for assertions."""

    ws: WebsocketCommunicator
    hello: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        frame: dict[str, Any] = await self.ws.receive_json_from(timeout)
        self.frames.append(frame)
        return frame

    async def recv_until(self, type: str, timeout: float = 3) -> dict[str, Any]:
        """Frames up to the first of ``type`` (the others stay in ``frames``)."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == type:
                return frame

    async def recv_message(self, body: str, timeout: float = 3) -> dict[str, Any]:
        """Frames up to the ``message.created`` of ``body``."""
        while True:
            frame = await self.recv_until("message.created", timeout)
            if frame["data"]["body"] == body:
                return frame

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json_to(frame)

    async def silent(self, timeout: float = 0.3) -> bool:
        return bool(await self.ws.receive_nothing(timeout=timeout))

    async def ping(self) -> None:
        """A round trip: everything pushed before it has been handled by the consumer."""
        await self.send({"type": "ping"})
        await self.recv_until("pong")

    async def close(self) -> None:
        await self.ws.disconnect()


async def open_socket(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Socket:
    ws = WebsocketCommunicator(application, path, headers=[ORIGIN] if headers is None else headers)
    connected, code = await ws.connect()
    assert connected, f"refused: {code}"
    hello = await ws.receive_json_from(3)
    assert hello["type"] == "hello", hello
    return Socket(ws, hello)


async def refused(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _code = await ws.connect()
    await ws.disconnect(timeout=0.1)
    return not connected


@dataclass
class Desk:
    """A shop with agents and buyers, driven through the services."""

    kit: ShopKit

    def agent(self, name: str, status: str = "online", **fields: object) -> Account:
        account = self.kit.sub(name, {Perm.CHAT}, **fields)
        if status != "offline":
            agent_set_status(account=account, status=AgentStatus(status))
        return account

    def buyer(self, external_id: str) -> Buyer:
        return Buyer.objects.create(shop=self.kit.shop, external_id=external_id, name=external_id)

    def ask(self, buyer: Buyer) -> Conversation:
        return conv.request_human(conversation=conv.conversation_open(buyer=buyer))

    def settings(self, **fields: object) -> None:
        s = self.kit.shop.settings
        for k, v in fields.items():
            setattr(s, k, v)
        s.save()


def token_of(account: Account) -> str:
    return account_services.token_for(account)


def widget_token(buyer: Buyer) -> str:
    return buyer_token(buyer, "product", None, None)


@pytest.fixture
def desk_a(shop_a: ShopKit, fast_password_hasher: None) -> Desk:
    return Desk(shop_a)


@pytest.fixture
def desk_b(shop_b: ShopKit, fast_password_hasher: None) -> Desk:
    return Desk(shop_b)


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., Any]]:
    """``await sockets(path)`` opens a socket that is closed when the test ends."""
    opened: list[Socket] = []

    async def _open(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Socket:
        socket = await open_socket(path, headers)
        opened.append(socket)
        return socket

    yield _open
    for socket in opened:
        with contextlib.suppress(Exception):
            await socket.ws.disconnect(timeout=0.5)


def sync(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ORM code from an async test (in Django's database thread)."""
    return database_sync_to_async(fn)
