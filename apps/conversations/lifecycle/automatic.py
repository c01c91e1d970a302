"""Automatic replies (SPEC D1-D4): the welcome, the off-hours reply, the queueing reply with the
queue figures, the closing notice and the rating request.

Each function runs inside the transaction of the service that changed the conversation, on the
conversation it holds locked, and stores its message through ``append_message`` like any other
message (so ``seq``, the clocks and the events stay right). Each decides for itself whether it
applies and answers the message it stored, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q, QuerySet

from apps.automation import hours, texts
from apps.conversations.lifecycle.store import append_message, shop_settings
from apps.conversations.models import (
    CloseReason,
    Conversation,
    Message,
    MessageKind,
    Sender,
    State,
)
from apps.conversations.selectors import (  # _waiting: the queue's one compiled read
    QUEUE_FIGURES,
    _waiting,
    queue_figures,
)
from apps.core.prepared import Prepared, Statement, Write
from apps.routing import queue
from apps.routing.models import AgentState
from apps.routing.queue import QueueFigures
from apps.routing.snapshot import Snapshot
from apps.shops.models import ShopSettings


def _zone(settings: ShopSettings) -> ZoneInfo:
    return ZoneInfo(settings.shop.time_zone)


def _schedule(settings: ShopSettings) -> hours.Schedule:
    """The business hours of ``settings``, parsed once per settings instance (a routing pass
    shares one for all its buyers) and again if the field is given a new value."""
    cached: tuple[Any, hours.Schedule] | None = getattr(settings, "_parsed_hours", None)
    if cached is None or cached[0] is not settings.business_hours:
        cached = (settings.business_hours, hours.Schedule.parse(settings.business_hours))
        settings._parsed_hours = cached  # type: ignore[attr-defined]
    return cached[1]


def _welcome_text(settings: ShopSettings) -> str:
    """``texts.welcome``, translated once per settings instance and language."""
    key = (settings.language, settings.welcome_text)
    cached: tuple[tuple[str, str], str] | None = getattr(settings, "_welcome", None)
    if cached is None or cached[0] != key:
        cached = (key, texts.welcome(settings))
        settings._welcome = cached  # type: ignore[attr-defined]
    return cached[1]


def shop_day_bounds(settings: ShopSettings, now: datetime) -> tuple[datetime, datetime]:
    """The calendar day of ``now`` in the shop's time zone (SPEC D, "per day"), as instants."""
    zone = _zone(settings)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def _sent(
    shop_id: int, buyers: Q, *, sender: Sender | str, body: str, since: datetime, until: datetime
) -> QuerySet[Message]:
    """The messages ``body`` from ``sender`` in [since, until) in the conversations of the
    ``buyers`` (a filter on the conversation). Through the buyers' few conversations (their
    index), then their messages: a join from the messages scanned every message of the shop with
    that text, the welcome of each buyer of the day (issue 8: 110 conversation index scans per
    request in the burst)."""
    return Message.objects.filter(
        conversation_id__in=Conversation.objects.filter(buyers, shop_id=shop_id).values("pk"),
        sender=sender,
        body=body,
        created_at__gte=since,
        created_at__lt=until,
    )


# One buyer's: compiled once per process (apps.core.prepared), it can run for every assignment,
# under the shop's lock.
_SENT_TO_BUYER: Prepared[Message] = Prepared(
    lambda shop_id, buyer_id, sender, body, since, until: (
        _sent(shop_id, Q(buyer_id=buyer_id), sender=sender, body=body, since=since, until=until)
        .values_list("pk")
        .order_by()[:1]
    ),
    shop_id=int,
    buyer_id=int,
    sender=str,
    body=str,
    since=datetime,
    until=datetime,
)


def _sent_to_buyer(
    conversation: Conversation, *, sender: Sender, body: str, since: datetime, until: datetime
) -> bool:
    """Whether this buyer already received ``body`` from ``sender`` in [since, until), in any
    of its conversations."""
    found = _SENT_TO_BUYER.rows(
        shop_id=conversation.shop_id,
        buyer_id=conversation.buyer_id,
        sender=str(sender),
        body=body,
        since=since,
        until=until,
    )
    return bool(found)


WELCOMED_TODAY = "_welcomed_today"

# ``_sent`` for a pass's buyers as fixed SQL, with the ORM's plan (the buyers' conversations by
# their index, then those conversations' messages): the ORM's ``IN`` list changes the statement
# with the number of buyers, so it was compiled on every pass (issue 8, cProfile). ``{buyers}``
# names the buyers, with their parameters first; then the shop, the sender, the text, the day's
# bounds.
_WELCOMED_OF = """
SELECT c.buyer_id FROM {message} m JOIN {conversation} c ON m.conversation_id = c.id
WHERE m.conversation_id IN (
    SELECT u.id FROM {conversation} u WHERE u.buyer_id {buyers} AND u.shop_id = %s
)
AND m.sender = %s AND m.body = %s AND m.created_at >= %s AND m.created_at < %s
"""
_TABLES = {"message": Message._meta.db_table, "conversation": Conversation._meta.db_table}
# The pass's own buyers (parameter: their ids).
_WELCOMED = _WELCOMED_OF.format(buyers="= ANY(%s::bigint[])", **_TABLES)
# The buyers of every request pending in the shop (parameter: the shop), a superset of any
# pass's (read after the pass's own read of them, under the same lock), so that the check can
# go in the pass's first round trip, before the pass knows its buyers or the shop's settings:
# with the text and day the shop's last pass in this process used (``welcomed_guess``), kept
# only if the settings read with it agree (``welcomed_guess_rows``). The state is written out,
# not a parameter, so that a generic plan can use the partial index of pending requests.
# The buyers are gathered into an array first (``ARRAY(...)`` runs once, as an InitPlan), so
# that every plan looks the conversations up by (shop, buyer) as for a pass's own buyers. As
# ``IN (SELECT ...)`` a prepared statement's generic plan, cached while the tables were small,
# joined every conversation of the shop to every pending request: quadratic, 80 ms a pass under
# the lock at 1,000 requests, and ``bench.routing_burst`` fell from 114 to 14 per second.
_PENDING_BUYERS = """= ANY(ARRAY(
    SELECT p.buyer_id FROM {conversation} p
    WHERE p.shop_id = %s AND p.state = '{pending}' AND p.human_requested_at IS NOT NULL
))""".format(pending=State.ASSISTANT.value, **_TABLES)  # noqa: S608
_WELCOMED_PENDING = _WELCOMED_OF.format(buyers=_PENDING_BUYERS, **_TABLES)

# By shop: the welcome's text and day of the shop's last pass in this process (a guess only:
# ``welcomed_guess_rows`` checks it against the settings each pass reads).
_last_welcome: dict[int, tuple[str, datetime, datetime]] = {}


def welcomed_guess(shop_id: int) -> Statement | None:
    """D1's check for the buyers of every pending request of the shop (PostgreSQL), with the
    welcome text and day of the shop's last pass here; None when there was none (or no welcome
    then)."""
    last = _last_welcome.get(shop_id)
    if last is None:
        return None
    text, start, end = last
    return _WELCOMED_PENDING, [shop_id, shop_id, str(Sender.AGENT), text, start, end]


def welcomed_guess_rows(
    shop_id: int,
    rows: Sequence[Sequence[Any]] | None,
    *,
    settings: ShopSettings,
    now: datetime,
) -> Sequence[Sequence[Any]] | None:
    """``rows`` of ``welcomed_guess`` if it asked what ``settings`` ask today (else None: the
    pass asks again), remembering what the next pass should guess."""
    if not settings.welcome_enabled:
        _last_welcome.pop(shop_id, None)
        return None
    asked = _last_welcome.get(shop_id)
    today = (_welcome_text(settings), *shop_day_bounds(settings, now))
    _last_welcome[shop_id] = today
    return rows if rows is not None and asked == today else None


def note_welcomed(
    conversations: Sequence[Conversation],
    *,
    settings: ShopSettings,
    now: datetime,
    rows: Sequence[Sequence[Any]] | None = None,
) -> None:
    """D1's once-a-day check for a whole routing pass in one query: marks each conversation
    (``WELCOMED_TODAY``) with whether its buyer got today's welcome already, so that ``welcome``
    reads nothing per assignment. ``rows``: what ``welcomed_guess`` answered for the pass, if
    it asked what the settings ask today (``welcomed_guess_rows``)."""
    if not (settings.welcome_enabled and conversations):
        return
    welcomed: set[int]
    start, end = shop_day_bounds(settings, now)
    shop_id = conversations[0].shop_id
    buyers = sorted({c.buyer_id for c in conversations})
    text = _welcome_text(settings)
    if rows is None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_WELCOMED, [buyers, shop_id, str(Sender.AGENT), text, start, end])
            rows = cursor.fetchall()
    if rows is not None:
        welcomed = {row[0] for row in rows}
    else:  # the embedded mode (SQLite): the ORM's statement
        welcomed = set(
            _sent(
                shop_id,
                Q(buyer_id__in=buyers),
                sender=Sender.AGENT,
                body=text,
                since=start,
                until=end,
            ).values_list("conversation__buyer_id", flat=True)
        )
    for conversation in conversations:
        setattr(conversation, WELCOMED_TODAY, conversation.buyer_id in welcomed)


def welcome(
    conversation: Conversation,
    *,
    settings: ShopSettings,
    agent_present: bool,
    now: datetime,
    full_save: bool = False,
    with_writes: Sequence[Write] = (),
) -> Message | None:
    """D1: when a conversation is assigned, the welcome in the agent's name; the same text at
    most once per buyer per shop day. Only for an agent who is there (online or paused): an
    offline message (B9, B11) is not greeted in the name of someone absent. ``with_writes`` go
    with the welcome's statement; None (no welcome): the caller still has them to run."""
    if not (settings.welcome_enabled and agent_present and conversation.agent_id is not None):
        return None
    text = _welcome_text(settings)
    known: bool | None = conversation.__dict__.get(WELCOMED_TODAY)
    if known is None:
        start, end = shop_day_bounds(settings, now)
        known = _sent_to_buyer(conversation, sender=Sender.AGENT, body=text, since=start, until=end)
    if known:
        return None
    setattr(conversation, WELCOMED_TODAY, True)
    return append_message(
        conversation,
        sender=Sender.AGENT,
        agent_id=conversation.agent_id,
        body=text,
        now=now,
        full_save=full_save,
        with_writes=with_writes,
    )


def queueing(
    conversation: Conversation, *, now: datetime, snapshot: Snapshot | None = None
) -> Message | None:
    """D3: the buyer was queued (or asked again while queued): position and estimate (C5).
    ``snapshot``: the caller's routing snapshot, under the shop's lock. The figures stay on the
    instance (``QUEUE_FIGURES``) for the answer of the request that queued it."""
    settings = shop_settings(conversation)
    if not settings.queueing_enabled:
        return None
    return _tell_place(conversation, settings, queue_figures(conversation, snapshot), now)


def _tell_place(
    conversation: Conversation, settings: ShopSettings, figures: QueueFigures | None, now: datetime
) -> Message:
    """D3's reply with ``figures``, which stay on the instance (``QUEUE_FIGURES``)."""
    setattr(conversation, QUEUE_FIGURES, figures)
    body = texts.queueing(settings, figures)
    return append_message(
        conversation, sender=Sender.SYSTEM, kind=MessageKind.NOTICE, body=body, now=now
    )


def queueing_many(
    conversations: Sequence[Conversation], *, now: datetime, snapshot: Snapshot
) -> None:
    """``queueing`` for the buyers a routing pass queued, from one read of the queue: each
    reply reading the whole queue again made a pass quadratic in the buyers it queued (issue 8,
    cProfile). Caller holds the shop's lock, ``snapshot`` its own."""
    settings = snapshot.settings
    if not (conversations and settings.queueing_enabled):
        return
    rows = _waiting(settings.queue_order).rows(shop_id=conversations[0].shop_id)
    figures = (
        queue.figures(rows, queue.capacity_of(snapshot.agents), settings.avg_handling_seconds)
        if rows
        else {}
    )
    for conversation in conversations:
        _tell_place(conversation, settings, figures.get(conversation.pk), now)


def anyone_present(*, shop_id: int) -> bool:
    """Whether any account that can answer buyers (the main account, or the chat permission)
    is online or paused."""
    return AgentState.objects.receiving_buyers(shop_id).present().exists()


def offhours(
    conversation: Conversation, *, now: datetime, snapshot: Snapshot | None = None
) -> Message | None:
    """D2: the buyer writes (or asks for a human) outside business hours and nobody is there;
    once per buyer per closed stretch (from the end of the last opening). ``snapshot``: the
    caller's routing snapshot, under the shop's lock, which knows who is there (a routing pass
    asked the database once per buyer before, outside business hours: issue 8)."""
    settings = shop_settings(conversation)
    if not settings.offhours_enabled:
        return None
    since = hours.closed_since(_schedule(settings), _zone(settings), now)
    if since is None:
        return None
    shop_id = conversation.shop_id
    present = snapshot.anyone_present if snapshot else anyone_present(shop_id=shop_id)
    if present:
        return None
    text = texts.offhours(settings)
    if _sent_to_buyer(
        conversation,
        sender=Sender.SYSTEM,
        body=text,
        since=since,
        until=now + timedelta(microseconds=1),
    ):
        return None
    return append_message(
        conversation, sender=Sender.SYSTEM, kind=MessageKind.NOTICE, body=text, now=now
    )


def paused(conversations: Sequence[Conversation], *, settings: ShopSettings, now: datetime) -> None:
    """Seed 001 (挂起): the agent holding ``conversations`` (locked by the caller) paused; each
    buyer is told, so that nobody waits without knowing why."""
    if not settings.paused_enabled or not conversations:
        return
    text = texts.paused(settings)
    for conversation in conversations:
        append_message(
            conversation, sender=Sender.SYSTEM, kind=MessageKind.NOTICE, body=text, now=now
        )


def closing(conversation: Conversation, *, reason: CloseReason, notice: str, now: datetime) -> None:
    """Before a conversation closes: the notice of an automatic end (D5, D6) and the rating
    request (D4: on every close except ``buyer_left``, of a conversation an agent handled)."""
    if notice:
        append_message(
            conversation, sender=Sender.SYSTEM, kind=MessageKind.NOTICE, body=notice, now=now
        )
    settings = shop_settings(conversation)
    if (
        reason != CloseReason.BUYER_LEFT
        and settings.rating_enabled
        and conversation.assigned_at is not None
    ):
        append_message(
            conversation,
            sender=Sender.SYSTEM,
            kind=MessageKind.RATING_REQUEST,
            body=texts.rating_request(settings),
            now=now,
        )
