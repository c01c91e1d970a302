"""Timed automatic steps (SPEC D5, D6) and the periodic work that finds what is due.

One service per step, each in one transaction: take the shop's routing lock and the
conversation's row lock, check again that the step is still due in the current state, then act
through the same services a person would (``conversation_close``, ``reroute``). Running one twice,
or two ticks at once, is harmless: the second finds the column cleared and does nothing.

``timers_run_due`` is the tick. Through the partial indexes on the due-at columns it finds the
shops with something due; then, shop by shop in short transactions, it takes the shop's lock
(the lock order of every service: shop, then rows), selects that shop's due rows with ``FOR
UPDATE SKIP LOCKED LIMIT n`` and calls the services, which check the state again. A concurrent
tick waits for the shop's lock and then finds those rows no longer due. ``pool_hand_out`` hands
pooled conversations to agents who are free (B11).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.automation import texts, timers
from apps.conversations import events
from apps.conversations.lifecycle.agents import capacity_changed
from apps.conversations.lifecycle.outcomes import dispatch, reroute
from apps.conversations.lifecycle.store import agent_present, append_message, shop_settings
from apps.conversations.lifecycle.transitions import conversation_close
from apps.conversations.models import CloseReason, Conversation, MessageKind, Sender, State
from apps.routing.locking import lock_shop
from apps.routing.snapshot import load_snapshot
from apps.shops.models import AgentSilenceAction, ShopSettings

logger = logging.getLogger(__name__)

BATCH = 20  # due rows of one shop per transaction: the shop's lock is held that long at most
MAX_BATCHES = 25  # per shop and step in one tick: a larger backlog drains over the next ticks
MAX_SHOPS = 1000  # shops per step in one tick


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
    warning = events.agent_silence_warning(
        text=texts.agent_warning(settings),
        action=settings.agent_silence_action,
        due_at=conv.agent_due_at,
    )
    events.conversation_updated(conv, warning=warning)
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
        # It stays (``engine.Keep``): a private contact (B8), or the main account's own
        # offline message that nobody else may take.
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

    @property
    def total(self) -> int:
        return sum(self.done.values())


def due_shops(column: str, now: datetime, limit: int = MAX_SHOPS) -> list[int]:
    """The shops with rows due for one step (partial index on ``column``)."""
    return list(
        Conversation.objects.filter(**{f"{column}__lte": now})
        .order_by()
        .values_list("shop_id", flat=True)
        .distinct()[:limit]
    )


def due_rows(shop_id: int, column: str, now: datetime, limit: int) -> list[Conversation]:
    """Due rows of one shop for one step, oldest first, that no other transaction holds."""
    return list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(shop_id=shop_id, **{f"{column}__lte": now})
        .order_by(column)[:limit]
    )


def _run_shop(
    shop_id: int, column: str, step: Step, now: datetime, limit: int, result: TickResult
) -> int:
    """One short transaction: the shop's routing lock first (the order of every service), then
    up to ``limit`` due rows with FOR UPDATE SKIP LOCKED (a row a writer holds right now is left
    for the next tick), then ``step`` on each. Answers how many rows were selected."""
    with transaction.atomic():
        lock_shop(shop_id)
        rows = due_rows(shop_id, column, now, limit)
        for conv in rows:
            try:
                with transaction.atomic():
                    if step(conversation=conv, now=now):
                        result.done[column] = result.done.get(column, 0) + 1
            except Exception:
                # One bad row must not block the others tick after tick: log it and drop its
                # timer (the conversation stays as it is, for a person to handle).
                logger.exception("Timer %s failed on conversation %s", column, conv.pk)
                Conversation.objects.filter(pk=conv.pk).update(**{column: None})
    return len(rows)


def timers_run_due(*, now: datetime | None = None, limit: int = BATCH) -> TickResult:
    """SPEC D5, D6: run every step that is due at ``now``. Shops are visited in random order,
    so that ticks running at once mostly work on different shops; a shop's lock is held for at
    most ``limit`` rows at a time, so routing in that shop never waits long."""
    now = now or timezone.now()
    result = TickResult()
    for column, step in STEPS:
        shops = due_shops(column, now)
        random.shuffle(shops)
        for shop_id in shops:
            for _batch in range(MAX_BATCHES):
                if _run_shop(shop_id, column, step, now, limit, result) < limit:
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
