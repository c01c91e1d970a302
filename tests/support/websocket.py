"""A WebSocket test client for ASGI applications, on asgiref alone.

``channels.testing`` cannot be imported without daphne (its package imports the live-server test
case), which this project does not install; this is the same communicator, trimmed and typed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlparse

from asgiref.testing import ApplicationCommunicator


class WebsocketCommunicator(ApplicationCommunicator):  # type: ignore[misc]
    """``socket = WebsocketCommunicator(application, "/ws/agent/?token=...", headers=[...])``."""

    def __init__(
        self, application: Any, path: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": unquote(parsed.path),
            "query_string": parsed.query.encode("utf-8"),
            "headers": headers or [],
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, int | str | None]:
        """``(True, subprotocol)`` when accepted, ``(False, close code)`` when refused."""
        await self.send_input({"type": "websocket.connect"})
        response: dict[str, Any] = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, response.get("subprotocol")

    async def send_to(self, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data: Any) -> None:
        await self.send_to(json.dumps(data))

    async def receive_from(self, timeout: float = 1) -> str:
        response: dict[str, Any] = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return str(response["text"])

    async def receive_json_from(self, timeout: float = 1) -> Any:
        return json.loads(await self.receive_from(timeout))

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        """Close from the client's side and wait up to ``timeout`` for the application to end.

        A consumer refused at the handshake may still be starting its channel-layer receive and
        not end at once; a short ``timeout`` then cancels it instead of waiting."""
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
