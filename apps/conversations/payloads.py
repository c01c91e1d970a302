"""The conversation and message shapes of API.md, shared by the REST API and the events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.conversations.models import Conversation, Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def conversation_payload(
    conversation: Conversation, *, queue: dict[str, Any] | None = None
) -> dict[str, Any]:
    rating = getattr(conversation, "rating", None) if conversation.state == "closed" else None
    return {
        "id": conversation.pk,
        "buyer": {
            "id": conversation.buyer_id,
            "external_id": conversation.buyer.external_id,
            "name": conversation.buyer.name,
        },
        "state": conversation.state,
        "agent": conversation.agent_id,
        "group": conversation.group_id,
        "entrance": conversation.entrance or None,
        "product": conversation.product.external_id if conversation.product_id else None,  # type: ignore[union-attr]
        "order": conversation.order.external_id if conversation.order_id else None,  # type: ignore[union-attr]
        "intent": conversation.intent or None,
        "queue": queue,
        "human_requested_at": _iso(conversation.human_requested_at),
        "assigned_at": _iso(conversation.assigned_at),
        "first_response_at": _iso(conversation.first_response_at),
        "closed_at": _iso(conversation.closed_at),
        "close_reason": conversation.close_reason or None,
        "from_offline_message": conversation.from_offline_message,
        "rating": {"score": rating.score, "comment": rating.comment} if rating else None,
        "created_at": _iso(conversation.created_at),
        "last_seq": conversation.last_seq,
    }


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "agent": message.agent_id,
        "kind": message.kind,
        "body": message.body,
        "created_at": _iso(message.created_at),
        "client_id": message.client_id or None,
    }
