"""Timed automatic steps (SPEC D5, D6) and the periodic work that finds what is due.

One service per step, each in one transaction: take the shop's routing lock and the
conversation's row lock, check again that the step is still due in the current state, then act
through the same services a person would (``conversation_close``, ``reroute``). Running one twice,
or two ticks at once, is harmless: the second finds the column cleared and does nothing.

``timers_run_due`` is the tick: it selects due rows through the partial indexes on the due-at
columns with ``FOR UPDATE SKIP LOCKED LIMIT n`` (a concurrent tick takes other rows), and calls
the services. ``pool_hand_out`` hands pooled conversations to agents who are free (B11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from django.db import connection, transaction
from django.utils import timezone

from apps.automation import texts, timers
from apps.conversations.messages import agent_present, append_message, shop_settings
from apps.conversations.models import CloseReason, Conversation, MessageKind, Sender, State
from apps.conversations.payloads import conversation_payload
from apps.conversations.services import conversation_close
from apps.events.services import emit, to_account
from apps.routing.services import (
    ADVISORY_NAMESPACE,
    capacity_changed,
    dispatch,
    load_snapshot,
    lock_shop,
    reroute,
)
from apps.shops.models import AgentSilenceAction, ShopSettings

logger = logging.getLogger(__name__)

BATCH = 100  # rows per kind per transaction
MAX_BATCHES = 10  # per kind per tick: a backlog drains over the next ticks


def _lock(conversation: Conversation) -> Conversation:
    """The shop's routing lock, then the conversation's row: the order every service uses."""
    lock_shop(conversation.shop_id)
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("buyer", "shop")
        .get(pk=conversation.pk)
    )


def _due(conversation: Conversation, column: str, now: datetime) -> bool:
    value: datetime | None = getattr(conversation, column)
    return value is not None and value <= now


def _clear(conversation: Conversation, *columns: str) -> None:
    for column in columns:
        setattr(conversation, column, None)
    conversation.save(update_fields=list(columns))


# ---------------------------------------------------------------------------------------------
# D5: buyer silence


@transaction.atomic
def buyer_silence_warn(*, conversation: Conversation, now: datetime | None = None) -> bool:
    """D5: tell the buyer the conversation ends soon. True when the warning went out."""
    now = now or timezone.now()
    conv = _lock(conversation)
    if not _due(conv, "buyer_warn_at", now):
        return False
    conv.buyer_warn_at = None
    if conv.state not in (State.ACTIVE, State.ASSISTANT) or _due(conv, "buyer_close_at", now):
        conv.save(update_fields=["buyer_warn_at"])  # too late to warn: the close follows
        return False
    settings = shop_settings(conv)
    append_message(
        conv,
        sender=Sender.SYSTEM,
        kind=MessageKind.NOTICE,
        body=texts.buyer_warning(settings),
        now=now,
    )
    return True


@transaction.atomic
def buyer_silence_close(*, conversation: Conversation, now: datetime | None = None) -> bool:
    """D5: end the conversation for buyer silence, with the closing notice (and the rating
    request, D4). True when it closed."""
    now = now or timezone.now()
    conv = _lock(conversation)
    if not _due(conv, "buyer_close_at", now):
        return False
    if conv.state not in (State.ACTIVE, State.ASSISTANT):
        _clear(conv, *timers.FIELDS)
        return False
    conversation_close(
        conversation=conv,
        actor=None,
        reason=CloseReason.BUYER_SILENCE,
        notice=texts.buyer_close(shop_settings(conv)),
        now=now,
    )
    return True


# ---------------------------------------------------------------------------------------------
# D6: agent silence


def _agent_waiting(conv: Conversation, column: str, now: datetime) -> bool:
    """Still due, still active, and the agent is there (an offline agent's conversations wait
    as its offline messages, B9, B11: no clock runs for them)."""
    if not _due(conv, column, now):
        return False
    if conv.state != State.ACTIVE or not agent_present(conv.agent_id):
        timers.stop_agent_clock(conv)
        conv.save(update_fields=["agent_warn_at", "agent_due_at"])
        return False
    return True


@transaction.atomic
def agent_silence_warn(*, conversation: Conversation, now: datetime | None = None) -> bool:
    """D6: warn the agent, as an event to the agent alone (never a conversation message)."""
    now = now or timezone.now()
    conv = _lock(conversation)
    if not _agent_waiting(conv, "agent_warn_at", now):
        return False
    _clear(conv, "agent_warn_at")
    if _due(conv, "agent_due_at", now):
        return False  # too late to warn: the action follows
    settings = shop_settings(conv)
    assert conv.agent_id is not None and conv.agent_due_at is not None
    emit(
        shop_id=conv.shop_id,
        recipients=[to_account(conv.agent_id)],
        type="conversation.updated",
        data={
            **conversation_payload(conv),
            "warning": {
                "kind": "agent_silence",
                "text": texts.agent_warning(settings),
                "action": settings.agent_silence_action,
                "due_at": conv.agent_due_at.isoformat(),
            },
        },
    )
    return True


@transaction.atomic
def agent_silence_act(*, conversation: Conversation, now: datetime | None = None) -> bool:
    """D6: the agent did not answer in time: the shop's action, ``close`` (close reason
    ``agent_silence``) or ``reassign`` (re-routed within its candidates, never to the same agent,
    at the front of the queue when nobody can take it now). True when something happened."""
    now = now or timezone.now()
    conv = _lock(conversation)
    if not _agent_waiting(conv, "agent_due_at", now):
        return False
    settings: ShopSettings = shop_settings(conv)
    if settings.agent_silence_action == AgentSilenceAction.CLOSE:
        conversation_close(
            conversation=conv,
            actor=None,
            reason=CloseReason.AGENT_SILENCE,
            notice=texts.agent_silence_closed(settings),
            now=now,
        )
        return True
    previous = conv.agent_id
    reroute(conversation=conv, snapshot=load_snapshot(conv.shop_id, now), now=now, front=True)
    if conv.state == State.ACTIVE and conv.agent_id == previous:
        # Nobody else may take it (the main account's own offline message): it stays.
        _clear(conv, "agent_warn_at", "agent_due_at")
        return False
    if conv.state == State.ACTIVE:
        append_message(
            conv,
            sender=Sender.SYSTEM,
            kind=MessageKind.NOTICE,
            body=texts.reassigned(settings),
            now=now,
        )
    elif conv.state == State.POOLED:
        append_message(
            conv,
            sender=Sender.SYSTEM,
            kind=MessageKind.NOTICE,
            body=texts.kept_as_message(settings),
            now=now,
        )
    dispatch(shop_id=conv.shop_id, now=now)  # the silent agent's slot freed (C3)
    return True


# ---------------------------------------------------------------------------------------------
# The tick


Step = Callable[..., bool]

# Closes before warnings: a warning whose close is due as well is dropped, not sent.
STEPS: tuple[tuple[str, Step], ...] = (
    ("buyer_close_at", buyer_silence_close),
    ("agent_due_at", agent_silence_act),
    ("buyer_warn_at", buyer_silence_warn),
    ("agent_warn_at", agent_silence_warn),
)


@dataclass
class TickResult:
    done: dict[str, int] = field(default_factory=dict)
    skipped_busy: int = 0

    @property
    def total(self) -> int:
        return sum(self.done.values())


def _try_lock_shop(shop_id: int) -> bool:
    """The shop's routing lock if it is free now; never waits (the tick holds row locks, and
    waiting for the shop lock with them could deadlock with a service that holds the shop lock
    and waits for one of those rows)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, shop_id])
        row = cursor.fetchone()
    return bool(row and row[0])


def due_rows(column: str, now: datetime, limit: int) -> list[Conversation]:
    """Due rows for one step, oldest first, that no other transaction holds (partial index)."""
    return list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(**{f"{column}__lte": now})
        .order_by(column)[:limit]
    )


def _run_batch(column: str, step: Step, now: datetime, limit: int, result: TickResult) -> int:
    """One transaction: lock up to ``limit`` due rows, then run ``step`` on each, shop by shop.
    Answers how many rows were selected."""
    with transaction.atomic():
        rows = due_rows(column, now, limit)
        for shop_id, group in groupby(sorted(rows, key=lambda c: c.shop_id), lambda c: c.shop_id):
            convs = list(group)
            if not _try_lock_shop(shop_id):
                result.skipped_busy += len(convs)  # routing runs there: the next tick
                continue
            for conv in convs:
                try:
                    with transaction.atomic():
                        if step(conversation=conv, now=now):
                            result.done[column] = result.done.get(column, 0) + 1
                except Exception:
                    # One bad row must not block the others tick after tick: log it and drop
                    # its timer (the conversation stays as it is, for a person to handle).
                    logger.exception("Timer %s failed on conversation %s", column, conv.pk)
                    Conversation.objects.filter(pk=conv.pk).update(**{column: None})
    return len(rows)


def timers_run_due(*, now: datetime | None = None, limit: int = BATCH) -> TickResult:
    """SPEC D5, D6: run every step that is due at ``now``."""
    now = now or timezone.now()
    result = TickResult()
    for column, step in STEPS:
        for _batch in range(MAX_BATCHES):
            selected = _run_batch(column, step, now, limit, result)
            if selected < limit:
                break
    return result


# ---------------------------------------------------------------------------------------------
# B11: the pool hand-out


def pool_hand_out(*, now: datetime | None = None) -> int:
    """B11 auto-assign: hand pooled conversations, oldest first, to agents who are eligible and
    free, in the shops that turned it on; queued buyers still go first (C3, ``dispatch``).
    Touches only shops with pooled conversations (the pool's partial index)."""
    shops = (
        Conversation.objects.filter(state=State.POOLED)
        .order_by("shop_id")
        .values_list("shop_id", flat=True)
        .distinct()
    )
    auto = ShopSettings.objects.filter(shop_id__in=list(shops), pool_auto_assign=True)
    handed = 0
    for shop_id in auto.values_list("shop_id", flat=True):
        handed += len(capacity_changed(shop_id=shop_id, now=now))
    return handed
