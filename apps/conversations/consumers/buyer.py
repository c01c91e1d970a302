"""The buyer socket ``/ws/widget/?token=<buyer token>`` (API.md, WebSockets; SPEC F3): the
buyer's event stream, ``message.send`` and ``typing``. Thin, like the agent socket: frames go to
the services the widget's REST API calls."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from apps.conversations import lifecycle as services
from apps.conversations.buyers import BuyerPrincipal
from apps.conversations.consumers.frames import message_fields
from apps.conversations.models import Conversation, State
from apps.conversations.payloads import message_payload
from apps.core.db import db_async
from apps.core.errors import Conflict, NotFound
from apps.core.realtime import account_group
from apps.events.consumers import StreamConsumer
from apps.events.services import Recipient, to_buyer
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
    message, created = services.buyer_message_send(
        buyer=principal.buyer, entrance=principal.entrance, **fields
    )
    return {"created": created, "message": message_payload(message)}


def typing_target(principal: BuyerPrincipal, content: dict[str, Any]) -> tuple[str, int]:
    """The agent group to tell: the holder of the buyer's open conversation."""
    _named_conversation(principal.buyer, content)
    conversation = services.buyer_open_conversation(buyer=principal.buyer)
    if conversation is None or conversation.state != State.ACTIVE or conversation.agent_id is None:
        raise Conflict(_("No agent is with you yet."))
    return account_group(conversation.agent_id), conversation.pk


class BuyerConsumer(StreamConsumer):
    frames = {
        **StreamConsumer.frames,
        "message.send": "on_message_send",
        "typing": "on_typing",
    }

    async def authorize(self) -> Recipient | None:
        principal: BuyerPrincipal | None = self.scope.get("buyer")
        if principal is None:
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
        group, conversation = await db_async(typing_target)(self.principal, content)
        await self.channel_layer.group_send(
            group,
            {"type": "socket.typing", "data": {"conversation": conversation, "sender": "buyer"}},
        )
