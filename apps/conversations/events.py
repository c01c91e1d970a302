"""The event catalogue: every event a socket receives (API.md, WebSockets; issue 8 item 5).

One constructor per event type. Each builds its type's one payload shape (a TypedDict below)
and decides who receives it; nothing else in the product names an event type, builds an event's
data or picks its recipients. Stored events go out through ``apps.events.services.emit`` (the
outbox: one row per recipient with its ``stream_seq``, pushed after commit), so constructors of
stored events are called inside the service's transaction. ``typing`` is live only (API.md: no
``stream_seq``): its constructor returns a ``LiveEvent`` that the socket relays at once.

Conversation events carry the conversation exactly as ``GET /api/v1/conversations/{id}/`` shows
it (``ConversationData``; ``queue`` is null in events: queue figures are computed when read and
reach waiting buyers as ``queue.updated``); the buyer and the agents get the same shape. A
client keeps its copy current by replacing a conversation with the data of each conversation
event, and by moving ``last_seq`` (and ``first_response_at``, on the first agent message after
``human_requested_at``) with each ``message.created`` (docs/realtime.md, "Keeping a copy").

``CATALOGUE`` lists every type with its payload class; ``schema(type)`` gives its JSON schema
(``tests/events/test_catalogue.py`` checks the schemas against API.md and every event the flows
produce against its schema). Adding an event type: CONTRIBUTING.md, "Adding an event type".
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

from django.db.models import Q

from apps.accounts.models import Account, AccountKind, ShopAccountPermission
from apps.accounts.permissions import Perm
from apps.conversations.models import Conversation, InternalNote, Message, Sender, State
from apps.conversations.payloads import (
    ConversationData,
    InternalNoteData,
    MessageData,
    conversation_payload,
    internal_note_payload,
    message_payload,
    queue_data,
)
from apps.core import coalesce
from apps.events.services import LiveEvent, Recipient, emit, to_account, to_buyer
from apps.integrations import publish as webhooks
from apps.integrations import subscriptions as webhook_subscriptions
from apps.shops.models import StaffMessage

# ---------------------------------------------------------------------------------------------
# Payload shapes (API.md; fields may be added, never renamed)


class AgentWarning(TypedDict):
    """SPEC D6: the agent has not answered; ``action`` follows at ``due_at`` unless it does."""

    kind: Literal["agent_silence"]
    text: str
    action: str
    due_at: str


class ConversationUpdatedData(ConversationData):
    """``conversation.updated``: the conversation, and the D6 warning (null unless this event
    is the warning, which goes to the holding agent alone)."""

    warning: AgentWarning | None


class TransferData(TypedDict):
    conversation: int
    from_account: int | None
    note: str


class ConversationTransferredData(ConversationData):
    """``conversation.transferred`` (SPEC B12): the conversation and how it moved; the note is
    for agents only (never the buyer's)."""

    transfer: TransferData


class QueueUpdatedData(TypedDict):
    """``queue.updated`` (SPEC C5): the waiting buyer's figures (null while hidden)."""

    conversation: int
    position: int | None
    eta_seconds: int | None
    hidden: bool


class QueueGroupCount(TypedDict):
    group: int
    waiting: int


class QueueChangedData(TypedDict):
    """``queue.changed`` (SPEC E1, seed 004): the shop's queue for its staff. ``waiting``: the
    buyers waiting in the shop; ``by_group``: per group, those its members may take (their
    candidates include one of them, or any participant); ``queue_mode`` (C2), so that a chat
    window can say that the shop queues. The buyers' own ``queue.updated`` keeps its shape."""

    waiting: int
    by_group: list[QueueGroupCount]
    queue_mode: str


class NoteCreatedData(InternalNoteData):
    """``note.created`` (SPEC I3): an internal note, as ``GET .../notes/`` lists it, with its
    conversation."""

    conversation: int


class StaffMessageData(TypedDict):
    """``staff_message.created`` (seed 001): a message between staff and the main account, as
    ``GET /api/v1/staff-messages/`` lists it."""

    id: int
    sender: int
    sender_name: str
    recipient: int
    recipient_name: str
    body: str
    created_at: str


class AgentStatusData(TypedDict):
    account: int
    status: str


class TypingData(TypedDict):
    conversation: int
    sender: Literal["buyer", "agent"]


class QuickReplySuggestedData(TypedDict):
    """``quick_reply.suggested`` (SPEC D7): replies matching the buyer's message ``message``."""

    conversation: int
    message: int
    replies: list[int]


class MonitorGroup(TypedDict):
    id: int | None
    name: str
    waiting: int
    longest_wait_seconds: int
    # Added by issue 11: when the longest waiting buyer started to wait (the page counts on).
    waiting_since: str | None


class MonitorAgent(TypedDict):
    id: int
    display_name: str
    status: str
    open_conversations: int
    max_concurrent: int
    # Added by issue 11 (seed 002, 考核): the agent's day so far and whether it meets the
    # shop's targets (null: no target set, or nothing to judge yet).
    group: int | None
    routing_enabled: bool
    conversations_today: int
    first_response_2min_rate: float | None
    targets_met: bool | None


class MonitorToday(TypedDict):
    conversations: int
    answered: int
    first_response_2min_rate: float | None
    avg_first_response_seconds: float | None
    left_queue: int
    ratings_count: int
    ratings_avg: float | None
    # Added by issue 11.
    date: str
    first_responses_within_2min: int
    targets_met: bool | None


class MonitorTargets(TypedDict):
    """The shop's targets (seed 002, 考核); null: none set."""

    first_response_2min_rate: float | None
    avg_first_response_seconds: int | None
    ratings_avg: float | None


class MonitorData(TypedDict):
    """``monitor.updated`` (SPEC G2): the body of ``GET /api/v1/monitor/``."""

    groups: list[MonitorGroup]
    agents: list[MonitorAgent]
    today: MonitorToday
    # Added by issue 11: when the board was read, and the targets it was judged against.
    generated_at: str
    targets: MonitorTargets


# ---------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class EventType:
    name: str
    data: type
    recipients: str  # who receives it, as the constructor decides (for docs and tests)
    stored: bool = True  # False: live only, no stream_seq (API.md)


MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_CLOSED = "conversation.closed"
CONVERSATION_TRANSFERRED = "conversation.transferred"
QUEUE_UPDATED = "queue.updated"
QUEUE_CHANGED = "queue.changed"
NOTE_CREATED = "note.created"
STAFF_MESSAGE_CREATED = "staff_message.created"
AGENT_STATUS = "agent.status"
QUICK_REPLY_SUGGESTED = "quick_reply.suggested"
MONITOR_UPDATED = "monitor.updated"
TYPING = "typing"

CATALOGUE: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            MESSAGE_CREATED,
            MessageData,
            "the buyer; the holding agent while active; the supervisors watching (I3)",
        ),
        EventType(
            MESSAGE_UPDATED,
            MessageData,
            "the buyer; the holding agent while active; the supervisors watching (I3); "
            "the agent who sent it (I1 recall)",
        ),
        EventType(CONVERSATION_ASSIGNED, ConversationData, "the agent who now holds it"),
        EventType(
            CONVERSATION_UPDATED,
            ConversationUpdatedData,
            "the buyer, the holding agent and the supervisors watching (I3); the agent it left "
            "(B9a, D6); the holding agent alone for the D6 warning",
        ),
        EventType(
            CONVERSATION_CLOSED,
            ConversationData,
            "the buyer; the agent who held it; the supervisors who watched it (I3)",
        ),
        EventType(
            CONVERSATION_TRANSFERRED,
            ConversationTransferredData,
            "the agent who now holds it, the supervisors watching (I3) and the agent it came from",
        ),
        EventType(QUEUE_UPDATED, QueueUpdatedData, "the waiting buyer"),
        EventType(
            QUEUE_CHANGED,
            QueueChangedData,
            "the shop's accounts that receive buyers (coalesced: one per transaction)",
        ),
        EventType(
            NOTE_CREATED,
            NoteCreatedData,
            "the conversation's holding agent, the supervisors watching (I3) and the author "
            "(never the buyer)",
        ),
        EventType(STAFF_MESSAGE_CREATED, StaffMessageData, "the recipient and the sender"),
        EventType(AGENT_STATUS, AgentStatusData, "the account itself"),
        EventType(QUICK_REPLY_SUGGESTED, QuickReplySuggestedData, "the holding agent"),
        EventType(MONITOR_UPDATED, MonitorData, "the main account and view_monitor accounts"),
        EventType(TYPING, TypingData, "the other side of the conversation", stored=False),
    )
}


# Webhook event types (SPEC H4; API.md, "webhooks"): the socket events the shop's systems may
# follow, and two that are no socket type of their own: a conversation entering the queue (its
# ``conversation.updated``) and a rating. The one place they leave is ``_webhook``; their data is
# the socket event's (a rating: the conversation as GET shows it, with its rating).
CONVERSATION_QUEUED = "conversation.queued"
CONVERSATION_RATED = "conversation.rated"
WEBHOOK_TYPES = (
    CONVERSATION_ASSIGNED,
    CONVERSATION_QUEUED,
    CONVERSATION_TRANSFERRED,
    CONVERSATION_CLOSED,
    MESSAGE_CREATED,
    CONVERSATION_RATED,
)
webhook_subscriptions.declare(WEBHOOK_TYPES)


def _webhook(shop_id: int, type: str, data: Any) -> None:
    """H4: the event to the shop's webhooks that take ``type``, after commit. Free for a shop
    with none (no query, no Redis: ``apps.integrations.publish``), so the hot paths' counts
    stay as they are."""
    assert type in WEBHOOK_TYPES
    webhooks.publish(shop_id=shop_id, type=type, data=data)


# The events after which the live board (G2) may read differently: who waits, who holds what,
# who is online. Emitting one marks the shop's board as changed (``monitor_changed``).
_BOARD_MOVES = frozenset(
    {
        CONVERSATION_ASSIGNED,
        CONVERSATION_UPDATED,
        CONVERSATION_CLOSED,
        CONVERSATION_TRANSFERRED,
        QUEUE_CHANGED,
        AGENT_STATUS,
    }
)
MONITOR_TOPIC = "monitor"  # apps.core.coalesce's topic of the live board


def _emit(shop_id: int, recipients: Iterable[Recipient], type: str, data: Any) -> None:
    assert type in CATALOGUE
    emit(shop_id=shop_id, recipients=recipients, type=type, data=data)
    if type in _BOARD_MOVES:
        monitor_changed(shop_id)


def monitor_changed(shop_id: int) -> None:
    """G2: the shop's live board may have changed (not an event: ``monitor.updated`` follows,
    coalesced to at most one a second per shop, from ``apps.metrics.board``). Free for the
    caller: taken when its transaction commits, by a set insert (``apps.core.coalesce``). The
    catalogue calls it for the events that move the board; other writers (a rating, an account
    or group change) call it themselves."""
    coalesce.changed(MONITOR_TOPIC, shop_id)


def _holding_agent(conversation: Conversation) -> list[Recipient]:
    """The agent holding the conversation now, if any, alone: for what is the agent's own (the
    D6 warning, its quick replies)."""
    if conversation.agent_id is not None and conversation.state == State.ACTIVE:
        return [to_account(conversation.agent_id)]
    return []


def _watchers(conversation: Conversation) -> list[Recipient]:
    """SPEC I3 (amended): the supervisors watching the conversation (``watcher_ids``, read with
    the row: no query), but the agent holding it."""
    return [to_account(pk) for pk in conversation.watcher_ids or () if pk != conversation.agent_id]


def _holder(conversation: Conversation) -> list[Recipient]:
    """The agent holding the conversation now, if any, and the supervisors watching it (SPEC
    I3): they see the chat live as the agent does. The one place watchers join the recipients
    of a conversation's events; the list is filled only while it is active and emptied when it
    closes, so a watcher also hears that it left ``active`` (re-routed, queued)."""
    return [*_holding_agent(conversation), *_watchers(conversation)]


# ---------------------------------------------------------------------------------------------
# Constructors: one per event type


def message_created(conversation: Conversation, message: Message) -> None:
    """Every stored message, whoever sent it, to the buyer and the holding agent, the sender's
    own sockets included (API.md). The other party first: pushes leave one after another, and
    the sender already has its answer (the ``ack`` or the HTTP response) while the other side
    waits for the message."""
    buyer, holder = [to_buyer(conversation.buyer_id)], _holder(conversation)
    recipients = [*holder, *buyer] if message.sender == Sender.BUYER else [*buyer, *holder]
    data = message_payload(message)
    _emit(conversation.shop_id, recipients, MESSAGE_CREATED, data)
    _webhook(conversation.shop_id, MESSAGE_CREATED, data)
    if message.sender == Sender.AGENT and conversation.first_response_at == message.created_at:
        monitor_changed(conversation.shop_id)  # G2: today's answered conversations moved


def message_updated(conversation: Conversation, message: Message) -> None:
    """A stored message changed (I1: recalled): the message as the REST API now shows it, to
    whoever got its ``message.created`` (the buyer, the holding agent) and to the agent who
    sent it, should the conversation have moved on since."""
    recipients = [to_buyer(conversation.buyer_id), *_holder(conversation)]
    if message.sender == Sender.AGENT and message.agent_id is not None:
        recipients.append(to_account(message.agent_id))
    _emit(conversation.shop_id, recipients, MESSAGE_UPDATED, message_payload(message))


def conversation_assigned(conversation: Conversation) -> None:
    """The conversation has an agent now (assigned, dispatched, claimed, handed out): the agent
    gets ``conversation.assigned``, the buyer ``conversation.updated``."""
    assert conversation.agent_id is not None
    data = conversation_payload(conversation)
    _emit(conversation.shop_id, [to_account(conversation.agent_id)], CONVERSATION_ASSIGNED, data)
    _webhook(conversation.shop_id, CONVERSATION_ASSIGNED, data)
    conversation_updated(conversation, buyer_only=True, data=data)


def conversation_updated(
    conversation: Conversation,
    *,
    former_agent_id: int | None = None,
    warning: AgentWarning | None = None,
    buyer_only: bool = False,
    data: ConversationData | None = None,
    entered_queue: bool = False,
) -> None:
    """The conversation's state moved. Recipients:

    - by default the buyer and the holding agent;
    - ``former_agent_id``: that agent alone, told the conversation left it (B9a, D6; the buyer
      and the new holder are told by the events of its new state);
    - ``warning`` (D6): the holding agent alone;
    - ``buyer_only``: the buyer, and the supervisors watching (its agent got
      ``conversation.assigned``).

    ``entered_queue``: the conversation has just started to wait (C3), which the shop's
    webhooks hear of as ``conversation.queued`` (H4).
    """
    payload: ConversationUpdatedData = {
        **(data or conversation_payload(conversation)),
        "warning": warning,
    }
    recipients: list[Recipient]
    if former_agent_id is not None:
        recipients = [to_account(former_agent_id)]
    elif warning is not None:
        recipients = _holding_agent(conversation)
    elif buyer_only:
        recipients = [to_buyer(conversation.buyer_id), *_watchers(conversation)]
    else:
        recipients = [to_buyer(conversation.buyer_id), *_holder(conversation)]
    _emit(conversation.shop_id, recipients, CONVERSATION_UPDATED, payload)
    if entered_queue:
        _webhook(conversation.shop_id, CONVERSATION_QUEUED, payload)


def agent_silence_warning(*, text: str, action: str, due_at: datetime) -> AgentWarning:
    """The ``warning`` of ``conversation.updated`` for SPEC D6."""
    return {"kind": "agent_silence", "text": text, "action": action, "due_at": due_at.isoformat()}


def conversation_closed(conversation: Conversation, *, watcher_ids: Iterable[int] = ()) -> None:
    """The conversation ended: to the buyer, the agent who held it and the supervisors who
    watched it (``watcher_ids``: the closing has emptied the row's list, SPEC I3)."""
    recipients = [to_buyer(conversation.buyer_id)]
    if conversation.agent_id is not None:
        recipients.append(to_account(conversation.agent_id))
    recipients += [to_account(pk) for pk in watcher_ids]
    data = conversation_payload(conversation)
    _emit(conversation.shop_id, recipients, CONVERSATION_CLOSED, data)
    _webhook(conversation.shop_id, CONVERSATION_CLOSED, data)


def conversation_transferred(
    conversation: Conversation, *, from_account: int | None, note: str
) -> None:
    """B12: to the agent who holds it now (if it went to one) and to the agent it came from.
    The buyer is told by the system notice and the events of the new state."""
    data: ConversationTransferredData = {
        **conversation_payload(conversation),
        "transfer": {"conversation": conversation.pk, "from_account": from_account, "note": note},
    }
    recipients = _holder(conversation)
    if from_account is not None:
        recipients.append(to_account(from_account))
    _emit(conversation.shop_id, recipients, CONVERSATION_TRANSFERRED, data)
    _webhook(conversation.shop_id, CONVERSATION_TRANSFERRED, data)


def conversation_rated(conversation: Conversation) -> None:
    """F4, D4: the buyer rated the conversation (read with its ``rating``). No socket event:
    for the shop's webhooks alone (H4), and the live board (G2: today's ratings)."""
    monitor_changed(conversation.shop_id)
    _webhook(conversation.shop_id, CONVERSATION_RATED, conversation_payload(conversation))


def queue_updated(conversation: Conversation, figures: Mapping[str, Any]) -> None:
    """C5: the waiting buyer's new figures (``QueueFigures.as_dict()``; pushed coalesced,
    DESIGN)."""
    queue = queue_data(figures)
    assert queue is not None
    data: QueueUpdatedData = {"conversation": conversation.pk, **queue}
    _emit(conversation.shop_id, [to_buyer(conversation.buyer_id)], QUEUE_UPDATED, data)


def queue_changed(shop_id: int, account_ids: Iterable[int], data: QueueChangedData) -> None:
    """E1: the shop's waiting buyers changed (queued, left, taken): to ``account_ids``, the
    accounts that receive buyers (the main account and the chat permission, A4), coalesced to
    at most one a second per shop by the lifecycle's ``queue_news``, however many buyers
    moved."""
    _emit(shop_id, [to_account(pk) for pk in account_ids], QUEUE_CHANGED, data)


def note_created(conversation: Conversation, note: InternalNote) -> None:
    """I3: an internal note, to the conversation's holding agent, the supervisors watching it
    and the author's own other sessions; never to the buyer (staff only)."""
    data: NoteCreatedData = {**internal_note_payload(note), "conversation": conversation.pk}
    recipients = _holder(conversation)
    if note.author_id is not None:
        recipients.append(to_account(note.author_id))
    _emit(conversation.shop_id, recipients, NOTE_CREATED, data)


def staff_message_data(
    message: StaffMessage, sender: Account, recipient: Account
) -> StaffMessageData:
    return {
        "id": message.pk,
        "sender": message.sender_id,
        "sender_name": sender.label,
        "recipient": message.recipient_id,
        "recipient_name": recipient.label,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }


def staff_message_created(message: StaffMessage, sender: Account, recipient: Account) -> None:
    """Seed 001: to the recipient, and to the sender's other sessions."""
    data = staff_message_data(message, sender, recipient)
    recipients = [to_account(message.recipient_id), to_account(message.sender_id)]
    _emit(message.shop_id, recipients, STAFF_MESSAGE_CREATED, data)


def agent_status(account: Account, status: str) -> None:
    """The account's status changed (by itself, presence or the system): to its own sockets."""
    data: AgentStatusData = {"account": account.pk, "status": str(status)}
    _emit(account.shop_id, [to_account(account.pk)], AGENT_STATUS, data)


def quick_reply_suggested(conversation: Conversation, message: Message, replies: list[int]) -> None:
    """D7: quick replies matching the buyer's message, to the holding agent."""
    data: QuickReplySuggestedData = {
        "conversation": conversation.pk,
        "message": message.pk,
        "replies": list(replies),
    }
    _emit(conversation.shop_id, _holding_agent(conversation), QUICK_REPLY_SUGGESTED, data)


def monitor_updated(shop_id: int, data: MonitorData) -> None:
    """G2: the live board, to the main account and the accounts with ``view_monitor`` (one
    query: the active main account, or a grant of the permission on the shop)."""
    grants = ShopAccountPermission.objects.filter(
        content_object_id=shop_id, permission__codename=Perm.VIEW_MONITOR.value
    )
    accounts = Account.objects.filter(shop_id=shop_id, is_active=True).filter(
        Q(kind=AccountKind.MAIN) | Q(pk__in=grants.values("user_id"))
    )
    recipients = [to_account(pk) for pk in accounts.order_by("pk").values_list("pk", flat=True)]
    _emit(shop_id, recipients, MONITOR_UPDATED, data)


def typing(conversation: Conversation, sender: Sender) -> LiveEvent:
    """Live only: the other side of an active conversation. The caller has checked that the
    sender may write in it (``apps.conversations.typing_relay``)."""
    assert conversation.state == State.ACTIVE and conversation.agent_id is not None
    data: TypingData = {
        "conversation": conversation.pk,
        "sender": "agent" if sender == Sender.AGENT else "buyer",
    }
    if sender == Sender.AGENT:
        return LiveEvent(to_buyer(conversation.buyer_id), TYPING, data)
    return LiveEvent(to_account(conversation.agent_id), TYPING, data)


# ---------------------------------------------------------------------------------------------
# JSON schemas, from the TypedDicts


def _schema_of(hint: Any) -> dict[str, Any]:
    origin = get_origin(hint)
    if hint is type(None):
        return {"type": "null"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema_of(arg) for arg in get_args(hint)]}
    if origin is list:
        (item,) = get_args(hint)
        return {"type": "array", "items": _schema_of(item)}
    if isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__"):
        fields = get_type_hints(hint)
        return {
            "type": "object",
            "properties": {name: _schema_of(value) for name, value in fields.items()},
            "required": sorted(fields),
            "additionalProperties": False,
        }
    raise TypeError(f"no JSON schema for {hint!r}")


def schema(type: str) -> dict[str, Any]:
    """The JSON schema of the ``data`` of events of ``type``: every field required, no others."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": type,
        **_schema_of(CATALOGUE[type].data),
    }
