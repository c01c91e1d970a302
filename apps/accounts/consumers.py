"""The agent socket ``/ws/agent/`` (API.md, WebSockets). Authenticated by the browser session or
``?token=``; the real-time issue adds the event streams on top of this."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.realtime import account_group
from apps.routing.services import agent_heartbeat

# Close codes: 4401 not authenticated, 4403 access revoked (disabled, password reset, deleted).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403


class AgentConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            # Refused at the handshake: the client sees HTTP 403.
            await self.close()
            return
        self.account_id: int = user.pk
        self.group_name = account_group(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await database_sync_to_async(agent_heartbeat)(account_id=user.pk)
        await self.send_json({"type": "hello", "data": {"account": user.pk, "shop": user.shop_id}})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await database_sync_to_async(agent_heartbeat)(account_id=self.account_id)
            await self.send_json({"type": "pong"})
            return
        await self.send_json(
            {"type": "error", "data": {"detail": f"Unknown message type: {kind!r}"}}
        )

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    # Channel-layer handlers.
    async def account_revoked(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_REVOKED)

    async def stream_event(self, message: dict[str, Any]) -> None:
        """A stored event of this account's stream (apps.events.services.emit)."""
        await self.send_json(
            {"type": message["event"], "stream_seq": message["stream_seq"], "data": message["data"]}
        )
