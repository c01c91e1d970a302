"""The conversation and message shapes of API.md, shared by the REST API and the events.

They are TypedDicts so that the event catalogue (``apps.conversations.events``) and its schema
test know every field; ``apps.conversations.api.serializers`` documents the same shapes for the
OpenAPI schema (``tests/conversations/test_api_shapes.py`` compares them)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypedDict

from django.urls import reverse

from apps.conversations.models import (
    Attachment,
    Conversation,
    InternalNote,
    Message,
    MessageKind,
)
from apps.shopdata.selectors import CardData


class BuyerRef(TypedDict):
    id: int
    external_id: str
    name: str


class QueueData(TypedDict):
    """SPEC C5, computed when read; position and estimate are null while hidden."""

    position: int | None
    eta_seconds: int | None
    hidden: bool


class RatingData(TypedDict):
    score: int
    comment: str


class ConversationData(TypedDict):
    """A conversation as ``GET /api/v1/conversations/{id}/`` shows it (API.md)."""

    id: int
    buyer: BuyerRef
    state: str
    agent: int | None
    group: int | None
    entrance: str | None
    product: str | None
    order: str | None
    intent: str | None
    queue: QueueData | None
    human_requested_at: str | None
    assigned_at: str | None
    first_response_at: str | None
    closed_at: str | None
    close_reason: str | None
    from_offline_message: bool
    rating: RatingData | None
    created_at: str | None
    last_seq: int


class ImageData(TypedDict):
    """SPEC I1: an image message's picture; the URLs answer only to who may see the
    conversation (``apps.conversations.api.files``)."""

    url: str
    thumbnail_url: str
    width: int
    height: int
    content_type: str
    size: int


class MessageData(TypedDict):
    """A message as the messages endpoints show it (API.md), with its conversation's id."""

    id: int
    conversation: int
    seq: int
    sender: str
    agent: int | None
    kind: str
    body: str
    created_at: str | None
    client_id: str | None
    image: ImageData | None
    recalled: bool
    # SPEC E4, E5, I1: an order, after-sales or product card's data as it was when sent; null
    # for every other kind of message.
    card: CardData | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class InternalNoteData(TypedDict):
    """An internal note (SPEC I3) as ``GET .../notes/`` lists it and ``note.created`` carries it."""

    id: int
    kind: str
    body: str
    author: int | None
    author_name: str
    created_at: str | None


def internal_note_payload(note: InternalNote) -> InternalNoteData:
    author = note.author
    return {
        "id": note.pk,
        "kind": note.kind,
        "body": note.body,
        "author": note.author_id,
        "author_name": author.label if author is not None else "",
        "created_at": _iso(note.created_at),
    }


def queue_data(figures: Mapping[str, Any] | None) -> QueueData | None:
    if figures is None:
        return None
    return {
        "position": figures["position"],
        "eta_seconds": figures["eta_seconds"],
        "hidden": figures["hidden"],
    }


def conversation_payload(
    conversation: Conversation, *, queue: Mapping[str, Any] | None = None
) -> ConversationData:
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
        "queue": queue_data(queue),
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


# The attachment whose message is being stored (``storing_attachment``): its message is written
# by the lifecycle, which builds the ``message.created`` payload in the same call.
_storing: ContextVar[Attachment | None] = ContextVar("storing_attachment", default=None)


@contextmanager
def storing_attachment(attachment: Attachment) -> Iterator[None]:
    """While the lifecycle stores the image message of ``attachment`` (a row without its
    message yet, linked by the caller right after, in the same transaction), the payloads
    built meanwhile show it: ``message.created`` carries the image like the REST answer."""
    token = _storing.set(attachment)
    try:
        yield
    finally:
        _storing.reset(token)


def image_data(attachment: Attachment) -> ImageData:
    return {
        "url": reverse("attachment-file", kwargs={"pk": attachment.pk}),
        "thumbnail_url": reverse("attachment-thumbnail", kwargs={"pk": attachment.pk}),
        "width": attachment.width,
        "height": attachment.height,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


def _image_of(message: Message) -> ImageData | None:
    """The image of an image message (SPEC I1); none once recalled. Other kinds never query:
    lists read the attachment with ``select_related("attachment")``."""
    if message.kind != MessageKind.IMAGE or message.recalled_at is not None:
        return None
    pending = _storing.get()
    if (
        pending is not None
        and pending.conversation_id == message.conversation_id
        and pending.message_id in (None, message.pk)
    ):
        return image_data(pending)
    attachment: Attachment | None
    if Message.attachment.is_cached(message):  # type: ignore[attr-defined]
        attachment = getattr(message, "attachment", None)
    else:
        attachment = Attachment.objects.filter(message=message).first()
    return image_data(attachment) if attachment is not None else None


def message_payload(message: Message) -> MessageData:
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "agent": message.agent_id,
        "kind": message.kind,
        # I1: a recalled message's body stays stored (staff audit) but is shown to nobody.
        "body": "" if message.recalled_at is not None else message.body,
        "created_at": _iso(message.created_at),
        "client_id": message.client_id or None,
        "image": _image_of(message),
        "recalled": message.recalled_at is not None,
        "card": message.card if message.recalled_at is None else None,
    }
