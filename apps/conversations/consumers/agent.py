"""The agent socket ``/ws/agent/`` (API.md, WebSockets): the account's event stream, presence,
``message.send`` and ``typing``. Authenticated by the browser session or ``?token=`` (see
``apps.accounts.middleware``), behind the ``ALLOWED_HOSTS`` Origin check (config/asgi.py).

Thin: each client frame is parsed here and handed to the same service the REST API calls; the
stream, resume, errors and heartbeats are ``apps.events.consumers.StreamConsumer``'s.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations import lifecycle as conversations
from apps.conversations.consumers.frames import conversation_of, message_fields
from apps.conversations.payloads import message_payload
from apps.conversations.privacy import masked_event, masked_message, sees_buyer_info
from apps.conversations.selectors import conversation_get
from apps.conversations.typing_relay import typing_relay
from apps.core.db import db_async
from apps.core.errors import NotFound
from apps.events.consumers import CLOSE_REVOKED, StreamConsumer
from apps.events.services import LiveEvent, Recipient, to_account
from apps.routing.presence import HeartbeatGate, agent_heartbeat, socket_write_seconds
from apps.shops.models import ShopSettings

__all__ = ["CLOSE_REVOKED", "AgentConsumer"]

MIN_PING_SECONDS = 2.0


def _account(account_id: int) -> Account:
    """The socket's account as it is now (permissions and activity may have changed)."""
    account = Account.objects.select_related("shop").filter(pk=account_id, is_active=True).first()
    if account is None:
        raise NotFound(_("Your account is no longer active."))
    return account


def send_message(account_id: int, content: dict[str, Any], *, masked: bool) -> dict[str, Any]:
    """``message.send``: the same path as ``POST /conversations/{id}/messages/``; ``masked``:
    the socket's account may not see buyers' personal information (SPEC I6)."""
    fields = message_fields(content)
    account = _account(account_id)
    conversation = conversation_get(account=account, conversation_id=conversation_of(content))
    message, created = conversations.agent_message_send(
        account=account, conversation=conversation, **fields
    )
    data = message_payload(message)
    return {"created": created, "message": masked_message(data) if masked else data}


def masks_buyer_info(account_id: int) -> bool:
    """SPEC I6: whether the socket's account gets buyers' phone numbers and addresses masked."""
    account = Account.objects.select_related("shop").filter(pk=account_id).first()
    return account is None or not sees_buyer_info(account)


def typing(account_id: int, content: dict[str, Any]) -> LiveEvent:
    """``typing``: the same service as the buyer socket's (``typing_relay``)."""
    conversation_id = conversation_of(content)
    return typing_relay(author=_account(account_id), conversation_id=conversation_id)


def grace_seconds(shop_id: int) -> int:
    grace: int = ShopSettings.objects.values_list("offline_grace_seconds", flat=True).get(
        shop_id=shop_id
    )
    return grace


def ping_seconds(grace: float) -> float:
    """Often enough that presence never lapses between pings: a third of the shop's grace."""
    return min(float(settings.HELPDESK_WS_PING_SECONDS), max(MIN_PING_SECONDS, grace / 3))


class AgentConsumer(StreamConsumer):
    metrics_kind = "agent"
    frames = {
        **StreamConsumer.frames,
        "message.send": "on_message_send",
        "typing": "on_typing",
    }

    async def authorize(self) -> Recipient | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return None  # refused at the handshake: the client sees HTTP 403
        self.account_id: int = user.pk
        self.shop_id: int = user.shop_id
        # SPEC I6: read once here (and again on ``access.changed``), not per event.
        self.masked: bool = await db_async(masks_buyer_info)(user.pk)
        return to_account(user.pk)

    async def hello_data(self) -> dict[str, Any]:
        # Opening a socket is a sign of life too (presence only, never a status change).
        await self.heartbeat()
        return {"account": self.account_id, "shop": self.shop_id}

    async def ping_seconds_for(self) -> float:
        grace = await db_async(grace_seconds)(self.shop_id)
        self.presence = HeartbeatGate(socket_write_seconds(grace))
        return ping_seconds(grace)

    async def heartbeat(self) -> None:
        # Presence only: a socket never changes the status the agent chose (API.md). Written at
        # most once per third of the grace period per socket: the pings between cost nothing.
        now = timezone.now()
        if self.presence.due(now):
            await db_async(agent_heartbeat)(account_id=self.account_id, now=now)
            self.presence.wrote(now)

    async def on_gone(self, clean: bool) -> None:
        if clean:  # the grace period (SPEC B9) counts from the moment the socket left
            await db_async(agent_heartbeat)(account_id=self.account_id, every=0)

    def shape(self, event_type: str, data: Any) -> Any:
        return masked_event(event_type, data) if self.masked else data

    async def on_access_changed(self) -> None:
        self.masked = await db_async(masks_buyer_info)(self.account_id)

    async def on_message_send(self, content: dict[str, Any]) -> None:
        result = await db_async(send_message)(self.account_id, content, masked=self.masked)
        await self.send_json(
            {"type": "ack", "data": {"client_id": content.get("client_id") or None, **result}}
        )

    async def on_typing(self, content: dict[str, Any]) -> None:
        await self.relay(await db_async(typing)(self.account_id, content))

    # Channel-layer handlers beyond the stream's.
    async def account_revoked(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_REVOKED)
