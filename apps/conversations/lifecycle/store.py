"""Storing one message: the one place a message row is written (SPEC D, N; API.md, messages).

``append_message`` runs inside the caller's transaction on a conversation the caller has locked
(``select_for_update``): it takes the next ``seq``, stores the message, moves the conversation's
clocks (SPEC D5, D6, ``apps.automation.timers``), saves the conversation and tells the buyer and
the holding agent. ``transitions.message_create`` wraps it for buyers and agents; the automatic
replies and notices call it directly on the conversation they already hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from apps.automation import timers
from apps.conversations import events
from apps.conversations.models import Conversation, Message, MessageKind, Sender, State
from apps.core.prepared import Write, insert_and_save, insert_with_parent, save_fields
from apps.routing.models import AgentState
from apps.routing.snapshot import SETTINGS
from apps.shops.models import Shop, ShopSettings


def shop_settings(conversation: Conversation) -> ShopSettings:
    """The shop's settings, read once per conversation instance: none at all when the
    conversation was read with ``select_related("shop__settings")`` (the hot paths do)."""
    cached: ShopSettings | None = getattr(conversation, "_shop_settings", None)
    if cached is None:
        shop = conversation.shop if Conversation.shop.is_cached(conversation) else None
        if shop is not None and Shop.settings.related.is_cached(shop):
            cached = shop.settings
        else:
            cached = SETTINGS.first(shop_id=conversation.shop_id)
            if cached is None:
                raise ShopSettings.DoesNotExist(f"no settings for shop {conversation.shop_id}")
        conversation._shop_settings = cached  # type: ignore[attr-defined]
    return cached


# Every column but the key: what ``save()`` without ``update_fields`` writes.
ALL_FIELDS = tuple(f.name for f in Conversation._meta.concrete_fields if not f.primary_key)


def save_conversation(
    conversation: Conversation,
    fields: Iterable[str] | None = None,
    with_writes: Sequence[Write] = (),
) -> None:
    """``conversation.save(update_fields=fields)`` (all columns when None) without compiling the
    UPDATE each time (``apps.core.prepared.save_fields``): the lifecycle saves a conversation
    with every message and routing decision, often under the shop's lock. ``with_writes`` run
    in the same statement (an assignment's agent rows)."""
    save_fields(conversation, ALL_FIELDS if fields is None else tuple(fields), with_writes)


PRESENCE_ANNOTATION = "holder_present"


def holder_present() -> Exists:
    """An annotation for a conversation query: whether its agent is online or paused, read with
    the conversation instead of by one more query when a buyer writes (``append_message``)."""
    return Exists(AgentState.objects.present().filter(account_id=OuterRef("agent_id")))


def agent_present(agent_id: int | None) -> bool:
    """Online or paused (SPEC vocabulary: an agent who can keep its buyers)."""
    if agent_id is None:
        return False
    return AgentState.objects.present().filter(account_id=agent_id).exists()


def _next_message(
    conv: Conversation,
    *,
    sender: Sender,
    body: str,
    now: datetime,
    kind: MessageKind,
    agent_id: int | None,
    client_id: str,
    card: Mapping[str, Any] | None = None,
) -> tuple[Message, list[str]]:
    """The next message of ``conv`` and the conversation's state after it (its timers, counters
    and clocks), not stored: the message and the names of the fields that changed."""
    conv.last_seq += 1
    message = Message(
        shop_id=conv.shop_id,
        conversation=conv,
        seq=conv.last_seq,
        sender=sender,
        agent_id=agent_id,
        kind=kind,
        body=body,
        client_id=client_id,
        created_at=now,
        card=card,
    )
    fields = ["last_seq", *timers.FIELDS]
    if sender == Sender.BUYER:
        conv.buyer_wrote = True
        conv.last_buyer_message_at = now
        fields += ["buyer_wrote", "last_buyer_message_at"]
    elif sender == Sender.AGENT:
        conv.last_agent_message_at = now
        fields.append("last_agent_message_at")
        if conv.human_requested_at and conv.first_response_at is None:
            # G3: the first response, the welcome included (SPEC D).
            conv.first_response_at = now
            fields.append("first_response_at")
    present = False
    if sender == Sender.BUYER and conv.state == State.ACTIVE:
        # A running clock keeps running; the tick checks presence again when it is due.
        known: bool | None = getattr(conv, PRESENCE_ANNOTATION, None)
        present = conv.agent_due_at is not None or (
            known if known is not None else agent_present(conv.agent_id)
        )
    timers.after_message(
        conv,
        sender=sender,
        durations=timers.Durations.of(shop_settings(conv)),
        now=now,
        agent_present=present,
    )
    return message, fields


def append_message(
    conversation: Conversation,
    *,
    sender: Sender,
    body: str,
    now: datetime,
    kind: MessageKind = MessageKind.TEXT,
    agent_id: int | None = None,
    client_id: str = "",
    also_save: Iterable[str] = (),
    full_save: bool = False,
    with_writes: Sequence[Write] = (),
    card: Mapping[str, Any] | None = None,
) -> Message:
    """Store ``body`` as the next message of ``conversation`` (locked by the caller).
    ``full_save``: save every column of the conversation (the caller changed more than this
    function knows, and saves once). ``with_writes`` run in the same statement. ``card``: the
    data of an order, after-sales or product card (SPEC E4, E5, I1), stored with the message."""
    assert transaction.get_connection().in_atomic_block, "append_message() needs a transaction"
    message, fields = _next_message(
        conversation,
        sender=sender,
        body=body,
        now=now,
        kind=kind,
        agent_id=agent_id,
        client_id=client_id,
        card=card,
    )
    # The message and the conversation's new state in one statement (one round trip).
    names = ALL_FIELDS if full_save else [*fields, *also_save]
    insert_and_save(message, conversation, names, with_writes)
    events.message_created(conversation, message)
    return message


def open_with_message(
    conversation: Conversation, *, sender: Sender, body: str, now: datetime
) -> Message:
    """Store the new ``conversation`` with its first message in one statement (one round
    trip: the widget's first request opens one, with the assistant's greeting)."""
    assert transaction.get_connection().in_atomic_block, "open_with_message() needs a transaction"
    assert conversation.pk is None and conversation.last_seq == 0
    message, _fields = _next_message(
        conversation,
        sender=sender,
        body=body,
        now=now,
        kind=MessageKind.TEXT,
        agent_id=None,
        client_id="",
    )
    insert_with_parent(conversation, message, "conversation")
    events.message_created(conversation, message)
    return message
