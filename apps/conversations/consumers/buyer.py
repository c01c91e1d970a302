"""The buyer socket ``/ws/widget/?token=<buyer token>`` (API.md, WebSockets; SPEC F3): the
buyer's event stream, ``message.send`` and ``typing``. Thin, like the agent socket: frames go to
the services the widget's REST API calls."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from apps.conversations import lifecycle as services
from apps.conversations.buyers import BuyerPrincipal, blocked_error
from apps.conversations.consumers.frames import conversation_of, message_fields
from apps.conversations.models import Conversation
from apps.conversations.payloads import message_payload
from apps.conversations.typing_relay import typing_relay
from apps.core.db import db_async
from apps.core.errors import NotFound
from apps.events.consumers import CLOSE_REVOKED, StreamConsumer
from apps.events.services import LiveEvent, Recipient, to_buyer
from apps.safety.throttle import buyer_message_throttle
from apps.shopdata.models import Buyer


def _named_conversation(buyer: Buyer, content: dict[str, Any]) -> None:
    """A frame may name the conversation; it must be one of this buyer's."""
    value = content.get("conversation")
    if value in (None, ""):
        return
    if (
        isinstance(value, bool)
        or not str(value).isdigit()
        or not Conversation.objects.filter(
            shop_id=buyer.shop_id, buyer=buyer, pk=int(str(value))
        ).exists()
    ):
        raise NotFound(_("No such conversation."))


def send_message(principal: BuyerPrincipal, content: dict[str, Any]) -> dict[str, Any]:
    """``message.send``: the same path as ``POST /widget/conversation/messages/``."""
    fields = message_fields(content)
    _named_conversation(principal.buyer, content)
    # SPEC I6: the same rate as the REST API's, counted before anything is stored.
    buyer_message_throttle(shop_id=principal.shop_id, buyer_id=principal.buyer.pk)
    message, created = services.buyer_message_send(
        buyer=principal.buyer, entrance=principal.entrance, **fields
    )
    return {"created": created, "message": message_payload(message)}


def typing(principal: BuyerPrincipal, content: dict[str, Any]) -> LiveEvent:
    """``typing``: the same service as the agent socket's (``typing_relay``)."""
    conversation_id = conversation_of(content, required=False)
    return typing_relay(author=principal.buyer, conversation_id=conversation_id)


class BuyerConsumer(StreamConsumer):
    metrics_kind = "widget"
    frames = {
        **StreamConsumer.frames,
        "message.send": "on_message_send",
        "typing": "on_typing",
    }

    async def authorize(self) -> Recipient | None:
        principal: BuyerPrincipal | None = self.scope.get("buyer")
        if principal is None or principal.blocked:  # SPEC I6: a blocked buyer too
            return None  # refused at the handshake (HTTP 403)
        self.principal = principal
        return to_buyer(principal.buyer.pk)

    async def hello_data(self) -> dict[str, Any]:
        buyer = self.principal.buyer
        return {"buyer": {"external_id": buyer.external_id, "name": buyer.name}}

    async def on_message_send(self, content: dict[str, Any]) -> None:
        result = await db_async(send_message)(self.principal, content)
        await self.send_json(
            {"type": "ack", "data": {"client_id": content.get("client_id") or None, **result}}
        )

    async def on_typing(self, content: dict[str, Any]) -> None:
        await self.relay(await db_async(typing)(self.principal, content))

    # Channel-layer handlers beyond the stream's.
    async def buyer_blocked(self, message: dict[str, Any]) -> None:
        """SPEC I6: the shop blocked this buyer (``apps.safety.services.buyer_block``): it is
        told why, and the socket closes (4403, like revoked staff access)."""
        error = blocked_error()
        await self.send_error({"code": "blocked", **error.as_payload()})
        await self.close(code=CLOSE_REVOKED)
