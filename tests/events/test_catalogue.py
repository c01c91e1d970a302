"""The event catalogue against API.md, and every event the real flows produce against it
(issue 8 item 5; API.md, WebSockets and "Event payloads").

- Each type API.md lists is in the catalogue, with a JSON schema naming at least the fields
  API.md gives it; conversation events carry the conversation exactly as GET shows it.
- Driving the flows (ask for a human, assign, queue, messages both ways, typing both ways,
  transfer, D6 warning, re-routing, close with dispatch, pool and claim, leave, agent status,
  queue pushes, the staff's coalesced queue counts), every stored event and every relayed live
  event validates against the schema of its type, and a type outside the catalogue fails the
  test.
- Only the catalogue emits: no module of the product calls ``emit``, builds a ``LiveEvent`` or
  spells an event type outside ``apps/conversations/events.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from jsonschema import Draft202012Validator

from apps.conversations import events as catalogue
from apps.conversations import lifecycle
from apps.conversations.api.serializers import ConversationSerializer, MessageSerializer
from apps.conversations.lifecycle import queue_news
from apps.conversations.models import Conversation, Message, State
from apps.conversations.notes import internal_note_add
from apps.conversations.recall import agent_message_recall
from apps.conversations.staff_messages import staff_message_send
from apps.conversations.typing_relay import typing_relay
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.events.models import Event
from apps.events.services import LiveEvent, to_account, to_buyer
from tests.conversations.conftest import Desk

pytestmark = pytest.mark.django_db

# API.md, WebSockets: "Types: ..."; typing is a frame outside the stream.
API_TYPES = {
    "conversation.assigned",
    "conversation.updated",
    "conversation.closed",
    "conversation.transferred",
    "message.created",
    "message.updated",  # SPEC I1: a recalled message (docs/realtime.md)
    "queue.updated",
    "agent.status",
    "quick_reply.suggested",
    "monitor.updated",
}
# Added by issue 10 (docs/realtime.md, the catalogue): the staff's queue counts (E1, without
# polling), internal notes live (I3), staff messages to and from the main account (seed 001).
STAFF_TYPES = {"queue.changed", "note.created", "staff_message.created"}
# API.md, Conversations: "Conversation fields: ..."
CONVERSATION_FIELDS = {
    "id", "buyer", "state", "agent", "group", "entrance", "product", "order", "intent", "queue",
    "human_requested_at", "assigned_at", "first_response_at", "closed_at", "close_reason",
    "from_offline_message", "rating",
}  # fmt: skip
BUYER_FIELDS = {"external_id", "name"}
QUEUE_FIELDS = {"position", "eta_seconds", "hidden"}
# API.md, "Message fields" + "plus conversation (its id)"
MESSAGE_FIELDS = {
    "id", "seq", "sender", "agent", "kind", "body", "created_at", "client_id", "conversation",
}  # fmt: skip
CONVERSATION_EVENTS = {
    "conversation.assigned",
    "conversation.updated",
    "conversation.closed",
    "conversation.transferred",
}
# What API.md says of the other payloads.
OTHER_FIELDS = {
    "queue.updated": {"conversation", "position", "eta_seconds"},
    "quick_reply.suggested": {"conversation", "message", "replies"},
    "monitor.updated": {"groups", "agents", "today"},
    "typing": {"conversation", "sender"},
    "agent.status": {"account", "status"},
    "queue.changed": {"waiting", "by_group", "queue_mode"},
    "note.created": {"conversation", "id", "kind", "body", "author", "author_name", "created_at"},
    "staff_message.created": {"id", "sender", "recipient", "body", "created_at"},
}
# Not emitted by these flows: D7's suggestions have no flow yet; G2's board is pushed after
# commit by the coalescer (apps.core.coalesce; off in this suite, and these flows never commit),
# tested in tests/metrics/test_board_push.py.
NOT_YET_EMITTED = {"quick_reply.suggested", "monitor.updated"}


def properties(schema: dict[str, Any]) -> set[str]:
    return set(schema["properties"])


def object_in(schema: dict[str, Any]) -> dict[str, Any]:
    """The object alternative of a nullable object schema."""
    if schema.get("type") == "object":
        return schema
    return next(s for s in schema["anyOf"] if s.get("type") == "object")


def validate(type: str, data: Any) -> None:
    assert type in catalogue.CATALOGUE, f"{type!r} is not in the event catalogue"
    Draft202012Validator(catalogue.schema(type)).validate(data)


# ---------------------------------------------------------------------------------------------
# The catalogue against API.md


def test_the_catalogue_has_every_type_api_md_lists_and_typing_live_only():
    assert set(catalogue.CATALOGUE) == API_TYPES | STAFF_TYPES | {"typing"}
    live = {name for name, e in catalogue.CATALOGUE.items() if not e.stored}
    assert live == {"typing"}  # API.md: typing frames carry no stream_seq


@pytest.mark.parametrize("type", sorted(catalogue.CATALOGUE))
def test_every_type_has_a_valid_json_schema_with_the_fields_api_md_gives(type):
    schema = catalogue.schema(type)
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False  # an unlisted field fails validation
    if type in CONVERSATION_EVENTS:
        assert properties(schema) >= CONVERSATION_FIELDS
        assert properties(schema["properties"]["buyer"]) >= BUYER_FIELDS
        assert properties(object_in(schema["properties"]["queue"])) >= QUEUE_FIELDS
    elif type in ("message.created", "message.updated"):
        assert properties(schema) >= MESSAGE_FIELDS
    else:
        assert properties(schema) >= OTHER_FIELDS[type]


def test_conversation_events_carry_the_conversation_as_get_shows_it():
    # API.md: "Conversation events carry the conversation as GET shows it": the fields of the
    # REST serializer, plus what each event adds (warning, transfer)
    rest = set(ConversationSerializer().fields)
    added = {
        "conversation.assigned": set(),
        "conversation.closed": set(),
        "conversation.updated": {"warning"},
        "conversation.transferred": {"transfer"},
    }
    for type, extra in added.items():
        assert properties(catalogue.schema(type)) == rest | extra, type
    assert properties(catalogue.schema("message.created")) == set(MessageSerializer().fields)


# ---------------------------------------------------------------------------------------------
# Every event of the real flows


def drive_the_flows(desk: Desk, clock: Any) -> list[LiveEvent]:
    """Every flow that emits, through the services the REST API and the sockets call. Returns
    the live events (typing) the sockets would relay."""
    desk.settings(language="en", default_max_concurrent=1, offline_handling="pool")
    a = desk.agent("a", weight=50)
    b = desk.agent("b", weight=10)
    first = desk.ask("b1")  # assigned, with the welcome
    second = desk.ask("b2")  # assigned to the other
    third = desk.ask("b3")  # queued, with the queueing text
    assert (first.state, second.state, third.state) == ("active", "active", "queued")
    assert lifecycle.queue_push_updates(shop_id=desk.shop_id) == 1
    # E1: the staff's queue.changed, as the coalescer's run after these commits stores it
    queue_news.queue_push(desk.shop_id)
    holder = first.agent
    assert holder is not None
    lifecycle.buyer_message_send(buyer=first.buyer, entrance="product", body="hello?")
    sent, _ = lifecycle.agent_message_send(
        account=holder, conversation=desk.fresh(first), body="hi!"
    )
    # I1: the agent takes it back at once: message.updated, recalled
    agent_message_recall(account=holder, conversation=desk.fresh(first), message_id=sent.pk)
    live = [
        typing_relay(author=first.buyer, conversation_id=None),
        typing_relay(author=holder, conversation_id=first.pk),
    ]
    # D6: the other agent does not answer its buyer: warned by conversation.updated
    lifecycle.buyer_message_send(buyer=second.buyer, entrance="product", body="anyone?")
    clock.shift(125)
    lifecycle.timers_run_due()
    assert Event.objects.filter(payload__warning__kind="agent_silence").exists()
    # B12: a transfer past the receiver's max; B9a: its agent goes offline, re-routed
    other = b if holder.pk == a.pk else a
    lifecycle.conversation_transfer(
        conversation=desk.fresh(first), actor=holder, to_account=other, note="VIP"
    )
    desk.status(other, "offline")  # both its conversations leave it: queued at the front
    desk.status(holder, "paused")
    desk.status(holder, "online")  # agent.status, and dispatch from the queue
    for conversation in Conversation.objects.filter(state=State.ACTIVE):
        lifecycle.conversation_close(conversation=conversation, actor=None)  # with dispatch
    # B11: everyone offline, a buyer who wrote waits in the pool; claimed by hand
    desk.status(holder, "offline")
    pooled = desk.ask("b4")
    lifecycle.buyer_message_send(buyer=pooled.buyer, entrance="product", body="still there?")
    desk.status(holder, "online")
    left = desk.ask("b5")
    lifecycle.conversation_leave(conversation=left)
    # I3: an internal note, live to the holding agent; seed 001: a staff message
    noted = desk.ask("b6")
    internal_note_add(conversation=noted, author=desk.kit.main, body="call back tomorrow")
    staff_message_send(sender=holder, to_id=desk.kit.main.pk, body="may I leave at five?")
    return live


def test_every_event_of_the_flows_matches_its_schema(desk, clock):
    live = drive_the_flows(desk, clock)

    stored = list(Event.objects.filter(shop_id=desk.shop_id).order_by("pk"))
    for event in stored:
        validate(event.type, event.payload)
    for event in live:
        assert not catalogue.CATALOGUE[event.type].stored
        validate(event.type, event.data)
    # and every type of the catalogue showed up, but for the features still to come
    seen = {e.type for e in stored} | {e.type for e in live}
    assert seen == set(catalogue.CATALOGUE) - NOT_YET_EMITTED
    # the agent a conversation left (B9a) is told where it went, in the same shape
    assert any(
        e.type == "conversation.updated"
        and e.recipient_kind == "account"
        and e.payload["agent"] != e.recipient_id
        for e in stored
    )
    # conversation.updated has one shape: every field, always (the warning null but for D6)
    updated = [e.payload for e in stored if e.type == "conversation.updated"]
    assert {frozenset(p) for p in updated} == {frozenset(properties(catalogue.schema(
        "conversation.updated")))}  # fmt: skip


def test_the_constructors_of_features_to_come_store_valid_events(desk):
    # D7 has no flow yet (G2's is tested in tests/metrics); the constructors give the shapes
    agent = desk.agent("a")
    conversation = desk.ask("b1")
    message = Message.objects.filter(conversation=conversation).last()
    assert message is not None
    board: catalogue.MonitorData = {
        "groups": [
            {
                "id": None,
                "name": "",
                "waiting": 0,
                "longest_wait_seconds": 0,
                "waiting_since": None,
            }
        ],
        "agents": [
            {
                "id": agent.pk,
                "display_name": "a",
                "status": "online",
                "open_conversations": 1,
                "max_concurrent": 5,
                "group": None,
                "routing_enabled": True,
                "conversations_today": 1,
                "first_response_2min_rate": 1.0,
                "targets_met": True,
            }
        ],
        "today": {
            "conversations": 1,
            "answered": 1,
            "first_response_2min_rate": 1.0,
            "avg_first_response_seconds": 0.0,
            "left_queue": 0,
            "ratings_count": 0,
            "ratings_avg": None,
            "date": "2026-12-01",
            "first_responses_within_2min": 1,
            "targets_met": True,
        },
        "generated_at": "2026-12-01T10:00:00+08:00",
        "targets": {
            "first_response_2min_rate": 0.8,
            "avg_first_response_seconds": None,
            "ratings_avg": None,
        },
    }
    with transaction.atomic():
        catalogue.quick_reply_suggested(conversation, message, [1, 2])
        catalogue.monitor_updated(desk.shop_id, board)
    suggested = Event.objects.get(type="quick_reply.suggested")
    assert suggested.recipient_id == agent.pk
    validate(suggested.type, suggested.payload)
    [board_event] = Event.objects.filter(type="monitor.updated")  # the main account only
    assert board_event.recipient_id == desk.kit.main.pk
    validate(board_event.type, board_event.payload)


def test_a_type_outside_the_catalogue_fails_validation():
    with pytest.raises(AssertionError, match="not in the event catalogue"):
        validate("conversation.reassigned", {})
    with pytest.raises(Exception, match="Additional properties"):
        validate("agent.status", {"account": 1, "status": "online", "extra": 1})


# ---------------------------------------------------------------------------------------------
# Only the catalogue emits

APPS = Path(__file__).resolve().parents[2] / "apps"
CATALOGUE_MODULE = APPS / "conversations" / "events.py"
GENERIC = APPS / "events"  # the outbox: defines emit and LiveEvent, knows no type


def test_only_the_catalogue_emits_or_names_an_event_type():
    names = set(catalogue.CATALOGUE) - {"typing"}  # "typing" is also a client frame's type
    offenders = []
    for path in sorted(APPS.rglob("*.py")):
        if path == CATALOGUE_MODULE or GENERIC in path.parents or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("emit", "LiveEvent"):
                    offenders.append(f"{path}:{node.lineno} calls {name}")
            elif isinstance(node, ast.Constant) and node.value in names:
                offenders.append(f"{path}:{node.lineno} spells {node.value!r}")
    assert offenders == [], "go through apps.conversations.events:\n" + "\n".join(offenders)


# ---------------------------------------------------------------------------------------------
# Typing: one service for both sockets


def test_typing_goes_only_into_ones_own_conversation_with_the_same_shape_both_ways(desk):
    # given two agents, each holding one buyer
    desk.settings(default_max_concurrent=1)
    a, b = desk.agent("a"), desk.agent("b")
    mine = desk.ask("b1")
    theirs = desk.ask("b2")
    holder = a if mine.agent_id == a.pk else b
    colleague = b if holder == a else a
    # then each side types into its own conversation, to the other side, in one shape
    from_buyer = typing_relay(author=mine.buyer, conversation_id=mine.pk)
    from_agent = typing_relay(author=holder, conversation_id=mine.pk)
    assert from_buyer.recipient == to_account(holder.pk)
    assert from_agent.recipient == to_buyer(mine.buyer_id)
    assert from_buyer.data == {"conversation": mine.pk, "sender": "buyer"}
    assert from_agent.data == {"conversation": mine.pk, "sender": "agent"}
    assert from_buyer.type == from_agent.type == "typing"
    # and never into another's: another buyer's or a colleague's conversation is not found
    with pytest.raises(NotFound):
        typing_relay(author=mine.buyer, conversation_id=theirs.pk)
    with pytest.raises(NotFound):
        typing_relay(author=colleague, conversation_id=mine.pk)
    # one it can see but no longer holds (closed) is a conflict, for the buyer too
    lifecycle.conversation_close(conversation=mine, actor=holder)
    with pytest.raises(Conflict):
        typing_relay(author=holder, conversation_id=mine.pk)
    with pytest.raises(Conflict):
        typing_relay(author=mine.buyer, conversation_id=mine.pk)
    with pytest.raises(InvalidInput):
        typing_relay(author=holder, conversation_id=None)
