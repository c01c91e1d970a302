"""The response serializers of the schema describe exactly what the payloads carry (API.md,
conversation and message fields; SPEC H1). The views answer with apps.conversations.payloads,
which the events share; the serializers only document them, so this keeps the two together."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.conversations.api.serializers import (
    ConversationSerializer,
    MessageSerializer,
    QueuedConversationSerializer,
)
from apps.conversations.models import Message, Rating
from apps.conversations.payloads import conversation_payload, message_payload
from apps.conversations.selectors import QueueFigures


def declared(serializer: serializers.BaseSerializer[Any]) -> dict[str, Any]:
    """The field names of a serializer, nested serializers as their own field names."""
    assert isinstance(serializer, serializers.Serializer)
    return {
        name: declared(field) if isinstance(field, serializers.Serializer) else None
        for name, field in serializer.fields.items()
    }


def shape(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: shape(v) if isinstance(v, dict) else None for k, v in payload.items()}


def test_conversation_serializer_has_exactly_the_payloads_fields(desk):
    # given a closed, rated conversation, and queue figures: every nested object filled
    agent = desk.agent("a1")
    conversation = desk.close(desk.ask("b1"), agent)
    Rating.objects.create(shop_id=desk.shop_id, conversation=conversation, score=5)
    conversation = desk.fresh(conversation)
    payload = conversation_payload(
        conversation, queue=QueueFigures(position=1, eta_seconds=60, hidden=False).as_dict()
    )
    # then the serializer of the schema names the same fields, no more, no fewer
    assert declared(ConversationSerializer()) == shape(payload)
    assert declared(QueuedConversationSerializer()) == {
        **shape(payload),
        "waited_seconds": None,
    }


def test_message_serializer_has_exactly_the_payloads_fields(desk):
    desk.agent("a1")
    conversation = desk.ask("b1")
    message = Message.objects.filter(conversation=conversation).first()
    assert message is not None
    assert declared(MessageSerializer()) == shape(message_payload(message))


def test_the_queue_answers_what_its_serializer_says(desk):
    # API.md: GET /queue/ answers conversations with their waited seconds
    desk.settings(default_max_concurrent=1)
    desk.agent("a1")
    desk.ask("b0")
    desk.ask("b1")
    row = desk.kit.client().get("/api/v1/queue/").json()["results"][0]
    assert set(row) == set(declared(QueuedConversationSerializer()))
