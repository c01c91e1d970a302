"""Conversation lifecycle (DESIGN, lifecycle): one service function per transition, each in one
transaction that writes the conversation, the agents' loads, the messages and the events."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.automation import timers
from apps.conversations import events
from apps.conversations.lifecycle import automatic, queue_news
from apps.conversations.lifecycle.outcomes import (
    apply_assign,
    apply_decision,
    dispatch,
    release,
)
from apps.conversations.lifecycle.store import (
    PRESENCE_ANNOTATION,
    append_message,
    holder_present,
    open_with_message,
    save_conversation,
    shop_settings,
)
from apps.conversations.models import (
    OPEN_STATES,
    CloseReason,
    Conversation,
    IntentRule,
    InternalNote,
    Message,
    MessageKind,
    NoteKind,
    Rating,
    Sender,
    State,
)
from apps.conversations.selectors import (
    QUEUE_FIGURES,
    queue_figures_all,
    routing_request,
    with_routing_facts,
)
from apps.core import precedence
from apps.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from apps.core.prepared import (
    Prepared,
    deferred_writes,
    keep_reserved,
)
from apps.events.services import batched_events
from apps.quickreplies import suggestions
from apps.routing import engine
from apps.routing.locking import lock_shop
from apps.routing.models import AgentState, Group
from apps.routing.snapshot import SETTINGS, Snapshot, load_snapshot, locked_reads
from apps.safety import words as sensitive_words
from apps.shopdata.models import Buyer, Order, Product
from apps.shops.models import QueueMode, Shop, ShopSettings

MAX_BODY = 5000
RATING_WINDOW = timedelta(hours=24)
# What storing a message may change on the conversation (``append_message``).
MESSAGE_FIELDS = (
    "last_seq",
    "intent",
    "buyer_wrote",
    "last_buyer_message_at",
    "last_agent_message_at",
    "first_response_at",
    *timers.FIELDS,
)


def _open_of(shop_id: int, buyer_id: int) -> QuerySet[Conversation]:
    """The buyer's open conversation (at most one: ``conversation_one_open_per_buyer``)."""
    return Conversation.objects.filter(shop_id=shop_id, buyer_id=buyer_id, state__in=OPEN_STATES)


def _lock(conversation_id: int) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("buyer", "product", "order", "shop__settings")
        .get(pk=conversation_id)
    )


def _language(shop_id: int) -> str:
    return ShopSettings.objects.values_list("language", flat=True).get(shop_id=shop_id)


# ---------------------------------------------------------------------------------------------
# Messages


def message_create(
    *,
    conversation: Conversation,
    sender: Sender,
    body: str,
    agent: Account | None = None,
    client_id: str = "",
    kind: MessageKind = MessageKind.TEXT,
    now: datetime | None = None,
    card: Mapping[str, Any] | None = None,
) -> tuple[Message, bool]:
    """Store a message with the conversation's next ``seq``, then tell the buyer and the holding
    agent. Idempotent on ``client_id`` per conversation and sender: a repeat returns the stored
    message and ``False``. A buyer writing outside business hours with nobody there gets the
    off-hours reply (SPEC D2). ``card``: a card's data (SPEC E4, E5, I1), stored with it."""
    now = now or timezone.now()
    body = _checked_body(body)
    with transaction.atomic():
        conv = _lock(conversation.pk)
        message, created = _message_create_locked(
            conv,
            sender=sender,
            body=body,
            agent=agent,
            client_id=client_id,
            kind=kind,
            now=now,
            card=card,
        )
    if created:
        _copy_message_fields(conv, conversation)
    return message, created


def _checked_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput(_("A message cannot be empty."), field="body")
    if len(body) > MAX_BODY:
        raise InvalidInput(
            _("A message has at most %(n)d characters.") % {"n": MAX_BODY}, field="body"
        )
    return body


def _message_create_locked(
    conv: Conversation,
    *,
    sender: Sender,
    body: str,
    agent: Account | None,
    client_id: str,
    kind: MessageKind,
    now: datetime,
    card: Mapping[str, Any] | None = None,
) -> tuple[Message, bool]:
    """``message_create`` on a conversation this transaction has locked, ``body`` checked.
    A conversation read with the ``RESENT_ANNOTATION`` of ``client_id`` (``_resent``) already
    says whether this is a resend."""
    if client_id:
        resent = getattr(conv, RESENT_ANNOTATION, _UNKNOWN)
        if resent is _UNKNOWN:
            existing = Message.objects.filter(
                conversation=conv, sender=sender, client_id=client_id
            ).first()
        else:
            existing = None if resent is None else Message.objects.get(pk=cast(int, resent))
        if existing is not None:
            return existing, False
    if kind == MessageKind.TEXT:
        body = _screened(shop_settings(conv), sender, body)
    also_save = []
    if sender == Sender.BUYER and conv.state == State.ASSISTANT and not conv.intent:
        intent = detect_intent(shop_id=conv.shop_id, text=body)
        if intent:
            conv.intent = intent
            also_save.append("intent")
    message = append_message(
        conv,
        sender=sender,
        body=body,
        kind=kind,
        agent_id=agent.pk if agent is not None else None,
        client_id=client_id,
        now=now,
        also_save=also_save,
        card=card,
    )
    if sender == Sender.BUYER:
        automatic.offhours(conv, now=now)
        _suggest_quick_replies(conv, message)
    return message, True


def _screened(settings: ShopSettings, sender: Sender, body: str) -> str:
    """SPEC I6: a buyer's text (and an agent's, unless the shop says otherwise) with the shop's
    masked words starred; a blocked word refuses it (``SensitiveWordRefused``, 400) before
    anything is stored. No query while the process has the shop's words (``safety.words``)."""
    if sender == Sender.BUYER or (sender == Sender.AGENT and settings.sensitive_words_agents):
        return sensitive_words.screen(
            shop_id=settings.shop_id, version=settings.sensitive_words_version, text=body
        )
    return body


def _buyer_settings(buyer: Buyer) -> ShopSettings:
    """The buyer's shop's settings: read with the buyer token (``buyers._BUYER``), else one
    query."""
    if Buyer.shop.is_cached(buyer) and Shop.settings.related.is_cached(buyer.shop):
        return buyer.shop.settings
    settings = SETTINGS.first(shop_id=buyer.shop_id)
    if settings is None:
        raise ShopSettings.DoesNotExist(f"no settings for shop {buyer.shop_id}")
    return settings


def _suggest_quick_replies(conv: Conversation, message: Message) -> None:
    """D7: the holding agent gets ``quick_reply.suggested`` when the buyer's message contains
    keywords of replies it may use (no query unless the shop's replies changed meanwhile)."""
    if conv.agent_id is None or conv.state != State.ACTIVE:
        return
    ids = suggestions.matching_reply_ids(
        shop_id=conv.shop_id,
        version=shop_settings(conv).quick_replies_version,
        agent_id=conv.agent_id,
        text=message.body,
    )
    if ids:
        events.quick_reply_suggested(conv, message, ids)


RESENT_ANNOTATION = "resent_message_id"
_UNKNOWN = object()


def _resent(sender: Sender, client_id: str) -> Subquery:
    """An annotation for a conversation query: the id of its message from ``sender`` with this
    ``client_id`` (a resend), read with the conversation instead of by one more query."""
    return Subquery(
        Message.objects.filter(
            conversation_id=OuterRef("pk"), sender=sender, client_id=client_id
        ).values("pk")[:1]
    )


# The buyer's open conversation, locked, with what storing a message needs: the shop's settings,
# whether its agent is there and whether ``client_id`` was stored already (ignored when empty).
_LOCK_OPEN_FOR_MESSAGE: Prepared[Conversation] = Prepared(
    lambda shop_id, buyer_id, client_id: (
        _open_of(shop_id, buyer_id)
        .select_related("shop__settings")
        .select_for_update(of=("self",))
        .annotate(
            **{
                PRESENCE_ANNOTATION: holder_present(),
                RESENT_ANNOTATION: _resent(Sender.BUYER, client_id),
            }
        )
        .order_by("pk")[:1]
    ),
    shop_id=int,
    buyer_id=int,
    client_id=str,
)


def _copy_message_fields(source: Conversation, target: Conversation) -> None:
    """Keep the caller's instance true after a message was stored through another one."""
    if source is not target:
        for name in MESSAGE_FIELDS:
            setattr(target, name, getattr(source, name))


def _notice(conversation: Conversation, text: str, now: datetime) -> Message:
    """A system notice on a conversation the caller holds locked."""
    return append_message(
        conversation, sender=Sender.SYSTEM, body=text, kind=MessageKind.NOTICE, now=now
    )


def detect_intent(*, shop_id: int, text: str) -> str:
    """The service assistant (B4): the first intent rule with a keyword in ``text``."""
    lowered = text.lower()
    for rule in IntentRule.objects.filter(shop_id=shop_id).order_by("id"):
        if any(k and k.lower() in lowered for k in rule.keywords):
            return rule.name
    return ""


def agent_message_send(
    *, account: Account, conversation: Conversation, body: str, client_id: str = ""
) -> tuple[Message, bool]:
    """An agent writes to a conversation it holds."""
    if conversation.state != State.ACTIVE or conversation.agent_id != account.pk:
        if client_id:  # a resend after the conversation moved on still answers the stored one
            existing = Message.objects.filter(
                conversation=conversation, sender=Sender.AGENT, client_id=client_id
            ).first()
            if existing is not None:
                return existing, False
        raise Conflict(_("You do not hold this conversation."))
    return message_create(
        conversation=conversation,
        sender=Sender.AGENT,
        body=body,
        agent=account,
        client_id=client_id,
    )


# ---------------------------------------------------------------------------------------------
# Opening and asking for a human


def conversation_open(
    *,
    buyer: Buyer,
    entrance: str = "",
    product: Product | None = None,
    order: Order | None = None,
    intent: str = "",
    human: bool = False,
    chosen_agent_id: int | None = None,
    now: datetime | None = None,
    open_id: int | Literal["unknown"] | None = "unknown",
) -> Conversation:
    """The buyer's open conversation, or a new one with the service assistant, who greets.

    ``human``: the buyer asks for a human at once (the widget's first request often does); a
    new conversation then stores the request with itself, in the same transaction, and
    ``request_human`` only has to decide it. ``open_id``: the id of the buyer's open
    conversation as the caller read it in this request (the widget's token check does), None
    when it had none: then nothing is read first (if one was opened since, the insert fails
    on the one-open-conversation constraint and that one is answered)."""
    now = now or timezone.now()
    if open_id is not None:
        existing = _OPEN_OF_BUYER.first(shop_id=buyer.shop_id, buyer_id=buyer.pk)
        if existing is not None:
            existing.buyer = buyer
            return existing
    skip_assistant = False
    if not human:
        skip_assistant = human = _skips_assistant(buyer, product, order, intent, now)
    try:
        # One round trip: BEGIN, the conversation with its greeting (ids from the process's
        # reserve), the greeting's event and the COMMIT (deferred_writes).
        with transaction.atomic(), deferred_writes(commit=True):
            conversation = Conversation(
                shop_id=buyer.shop_id,
                buyer=buyer,
                entrance=entrance,
                product=product,
                order=order,
                intent=intent,
                human_requested_at=now if human else None,
                chosen_agent_id=chosen_agent_id if human else None,
            )
            if Buyer.shop.is_cached(buyer):  # read with its shop and settings (the widget's)
                conversation.shop = buyer.shop
            settings = shop_settings(conversation)
            with translation.override(settings.language):
                greeting = _("Hello! I am the shop's service assistant. How can I help you?")
            # The conversation and its greeting in one statement.
            open_with_message(conversation, sender=Sender.ASSISTANT, body=greeting, now=now)
    except IntegrityError:  # another request opened it at the same moment
        return _open_of(buyer.shop_id, buyer.pk).select_related("buyer", "product", "order").get()
    if skip_assistant:  # seed 004: straight to routing, decided before the answer (API.md)
        return request_human(conversation=conversation, now=now)
    return conversation


def _skips_assistant(
    buyer: Buyer, product: Product | None, order: Order | None, intent: str, now: datetime
) -> bool:
    """Amended C2 (seed 004, 仅对部分分组开启排队): in ``groups`` queue mode a buyer whose
    group does not queue skips the service assistant and goes straight to routing. "Its group"
    is the scope of B4 (the groups its request would have as candidates): a buyer whose
    candidates include a queueing group meets the assistant first, as in ``shop`` mode; one in
    no queueing group (no group matches, or simple mode, where ``groups`` means off) does not.
    Only in ``groups`` mode does this read anything beyond the settings."""
    if Buyer.shop.is_cached(buyer) and Shop.settings.related.is_cached(buyer.shop):
        queue_mode = buyer.shop.settings.queue_mode
    else:
        queue_mode = ShopSettings.objects.values_list("queue_mode", flat=True).get(
            shop_id=buyer.shop_id
        )
    if queue_mode != QueueMode.GROUPS:
        return False
    snapshot = load_snapshot(buyer.shop_id, now)
    probe = Conversation(
        shop_id=buyer.shop_id, buyer=buyer, product=product, order=order, intent=intent
    )
    candidates = engine.scope_candidates(routing_request(probe), snapshot.agents, snapshot.groups)
    return not engine.queue_applies(candidates, snapshot.rules, snapshot.groups)


_OPEN_OF_BUYER: Prepared[Conversation] = Prepared(
    lambda shop_id, buyer_id: (
        _open_of(shop_id, buyer_id).select_related("product", "order").order_by("pk")[:1]
    ),
    shop_id=int,
    buyer_id=int,
)

PENDING_BATCH = 100  # requests decided in one locked pass


def request_human(
    *,
    conversation: Conversation,
    chosen_agent_id: int | None = None,
    intent: str = "",
    now: datetime | None = None,
) -> Conversation:
    """The buyer asks for a human: the routing decision runs before the answer (API.md).

    The request is stored first (the conversation's row lock only), then decided with every
    other pending request of the shop in one pass under the shop's lock (``route_pending``):
    under a burst, the requests that waited for the lock are decided against one snapshot by
    whoever takes it first, and the others find theirs done (DESIGN, short critical sections).
    """
    now = now or timezone.now()
    if not _request_stored(conversation, chosen_agent_id, intent):
        with transaction.atomic():
            conv = _lock(conversation.pk)
            if conv.state != State.ASSISTANT:
                if conv.state == State.QUEUED:
                    automatic.queueing(conv, now=now)  # C5, D3: asking again refreshes the figures
                return conv  # already routed: asking again changes nothing else
            fields = []
            if conv.human_requested_at is None:
                conv.human_requested_at = now
                fields.append("human_requested_at")
            if intent:
                conv.intent = intent
                fields.append("intent")
            if chosen_agent_id is not None:
                if not AgentState.objects.filter(
                    shop_id=conv.shop_id, account_id=chosen_agent_id
                ).exists():
                    raise InvalidInput(_("No such agent."), field="agent")
                conv.chosen_agent_id = chosen_agent_id
                fields.append("chosen_agent_id")
            if fields:
                conv.save(update_fields=fields)
    mine = _passes(conversation.shop_id).decide(conversation.pk, now)
    precedence.give_way()  # the next pass goes first; this answer can wait
    return mine if mine is not None else _fresh(conversation.pk)


class _ShopPasses:
    """The routing passes of one shop in this process (DESIGN, short critical sections).

    Under a burst, the request threads of a process no longer each wait for the shop's lock in
    PostgreSQL only to find their request decided by the pass before: one thread (the leader)
    runs a pass, which decides every pending request of the shop, and the others of this
    process wait here for it and take their conversation from its result. A thread whose
    request the pass did not see (stored after its read) leads the next pass, which sees it,
    because every request is committed before its thread comes here. Across processes the
    shop's lock in PostgreSQL still orders the passes. The waiters hold no database connection.
    """

    KEEP_PASSES = 8  # results older than that many passes are dropped (nobody waits for them)

    def __init__(self, shop_id: int) -> None:
        self._shop_id = shop_id
        self._changed = threading.Condition()
        self._leading = False
        self._pass = 0
        self._results: dict[int, tuple[int, Conversation]] = {}
        self._waiting: set[int] = set()  # the conversations of the threads in ``decide``

    def decide(self, conversation_id: int, now: datetime) -> Conversation | None:
        """Wait for or run the pass that decides ``conversation_id``; its conversation as the
        pass left it, or None when another process decided it (the caller reads it)."""
        with self._changed:
            self._waiting.add(conversation_id)
            try:
                while True:
                    done = self._results.pop(conversation_id, None)
                    if done is not None:  # decided by a pass another thread led
                        return done[1]
                    if not self._leading:
                        break
                    self._changed.wait()
                self._leading = True
                waiting = frozenset(self._waiting)
            finally:
                self._waiting.discard(conversation_id)
        decided: dict[int, Conversation] = {}
        try:
            decided = _route_pending(self._shop_id, now, waiting=waiting)
        finally:
            with self._changed:
                self._leading = False
                self._pass += 1
                for pk, conv in decided.items():
                    if pk != conversation_id:
                        self._results[pk] = (self._pass, conv)
                old = self._pass - self.KEEP_PASSES
                for pk in [pk for pk, (n, _c) in self._results.items() if n < old]:
                    del self._results[pk]
                self._changed.notify_all()
        return decided.get(conversation_id)


_passes_lock = threading.Lock()
# By (process id, shop id): a forked process (Celery prefork) starts with none of its parent's.
_passes_by_shop: dict[tuple[int, int], _ShopPasses] = {}


def _passes(shop_id: int) -> _ShopPasses:
    key = (os.getpid(), shop_id)
    with _passes_lock:
        passes = _passes_by_shop.get(key)
        if passes is None:
            passes = _passes_by_shop[key] = _ShopPasses(shop_id)
        return passes


def _request_stored(conversation: Conversation, chosen_agent_id: int | None, intent: str) -> bool:
    """Whether ``conversation`` (as the caller holds it) already stores this very request, as
    ``conversation_open(human=True)`` does: then only the decision is left."""
    return (
        conversation.state == State.ASSISTANT
        and conversation.human_requested_at is not None
        and (chosen_agent_id is None or conversation.chosen_agent_id == chosen_agent_id)
        and (not intent or conversation.intent == intent)
    )


def _fresh(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("buyer", "product", "order", "shop").get(
        pk=conversation_id
    )


def route_pending(*, shop_id: int, now: datetime | None = None) -> int:
    """Decide every pending request for a human of the shop, oldest first, in locked passes of
    at most ``PENDING_BATCH`` against one snapshot. Returns how many were decided. Also run by
    the dispatch safety net, for a request whose process died between storing and deciding."""
    return len(_route_pending(shop_id, now or timezone.now()))


# The shop's pending requests, oldest first, locked, with their routing facts and the shop's
# settings: compiled once per process, since compiling its subqueries cost more CPU under the
# lock than running them (py-spy).
_PENDING_REQUESTS: Prepared[Conversation] = Prepared(
    lambda shop_id: (
        with_routing_facts(Conversation.objects.select_related("buyer", "product", "order", "shop"))
        .select_for_update(of=("self",))
        .filter(shop_id=shop_id, state=State.ASSISTANT, human_requested_at__isnull=False)
        .order_by("human_requested_at", "id")[:PENDING_BATCH]
    ),
    shop_id=int,
)


def _route_pending(
    shop_id: int, now: datetime, *, waiting: frozenset[int] = frozenset()
) -> dict[int, Conversation]:
    """``route_pending``, answering the decided conversations by id (with buyer, product, order
    and shop), so that the request that decided its own needs not read it again. ``waiting``:
    the conversations this process's request threads wait for; those another process decided
    already are answered too (``_decided_elsewhere``)."""
    decided: dict[int, Conversation] = {}
    elsewhere: list[int] = []
    while True:
        # Under a burst each round trip of a pass is also a wait for a processor, and the
        # passes are the burst's critical path (issue 8): a pass is two round trips whatever
        # its number of buyers. BEGIN, the lock, then every read that needs no answer first
        # (the pending requests, the snapshot, the ids of the pass's messages, the once-a-day
        # welcome check as the shop's last pass made it); every write with the events'
        # statement and the COMMIT (deferred_writes). A third when the welcome check has to be
        # asked again (the first pass of a shop in a process, a new day, a new text).
        holding = ExitStack()
        with (
            holding,
            transaction.atomic(),
            deferred_writes(commit=True),
            batched_events(),
        ):
            asked = waiting if not decided and len(waiting) > 1 else frozenset()
            pending, snapshot, guessed, elsewhere_now = _locked_pending(shop_id, now, asked)
            # The lock is held from here to the COMMIT: this process's other request threads
            # give way meanwhile (apps.core.precedence).
            holding.enter_context(precedence.holding())
            elsewhere += elsewhere_now
            if pending:
                _note_welcomed(pending, snapshot, now, guessed)
                queued = [conv for conv in pending if _route_one(conv, snapshot, now)]
                automatic.queueing_many(queued, now=now, snapshot=snapshot)  # D3
        decided.update((conv.pk, conv) for conv in pending)
        if len(pending) < PENDING_BATCH:
            break
    if elsewhere:  # as a request answers them (``_fresh``), read together after the pass
        rows = Conversation.objects.select_related("buyer", "product", "order", "shop")
        told = list(rows.filter(pk__in=elsewhere))
        if any(conv.state == State.QUEUED for conv in told):
            # Their answers' queue figures (C5) from one read of the queue, not one each.
            figures = queue_figures_all(shop_id=shop_id)
            for conv in told:
                if conv.state == State.QUEUED:
                    setattr(conv, QUEUE_FIGURES, figures.get(conv.pk))
        decided.update((conv.pk, conv) for conv in told)
    return decided


# The ids of the messages a pass writes (about one per buyer: a welcome or a queueing reply),
# reserved in its first round trip for as many requests as it will read (``deferred_writes``).
# The state is written out, not a parameter: a prepared statement's generic plan can then use
# the partial index of pending requests (with a parameter it scanned the table, issue 8).
_PASS_IDS = """
SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, (
    SELECT count(*) FROM (
        SELECT 1 FROM {conversation}
        WHERE shop_id = %s AND state = '{pending}' AND human_requested_at IS NOT NULL LIMIT %s
    ) AS pending
))
""".format(conversation=Conversation._meta.db_table, pending=State.ASSISTANT.value)  # noqa: S608, UP032


# Of the conversations a process's request threads wait for, those no longer pending: another
# process's pass decided them (its commit came before this pass took the lock).
_DECIDED_ELSEWHERE = """
SELECT id FROM {conversation} WHERE id = ANY(%s::bigint[])
AND NOT (state = '{pending}' AND human_requested_at IS NOT NULL)
""".format(conversation=Conversation._meta.db_table, pending=State.ASSISTANT.value)  # noqa: UP032


def _locked_pending(
    shop_id: int, now: datetime, waiting: frozenset[int] = frozenset()
) -> tuple[list[Conversation], Snapshot, list[tuple[Any, ...]] | None, list[int]]:
    """The shop's lock, its pending requests and its snapshot, in one round trip, with the
    ids of the pass's messages, D1's check as the shop's last pass here made it
    (``automatic.welcomed_guess``; its rows, or None) and which of ``waiting`` another process
    decided already (under several web processes, their passes take turns on the lock: a
    thread whose request the other process's pass decided would otherwise lead a pass of its
    own to find out, and then read its conversation)."""
    reads = [_PENDING_REQUESTS.statement(shop_id=shop_id)]
    guess = None
    if connection.vendor == "postgresql":
        reads.append((_PASS_IDS, [Message._meta.db_table, shop_id, PENDING_BATCH]))
        if waiting:
            reads.append((_DECIDED_ELSEWHERE, [sorted(waiting)]))
        guess = automatic.welcomed_guess(shop_id)
        if guess is not None:
            reads.append(guess)
    snapshot, (pending, *more) = locked_reads(shop_id, now, reads)
    elsewhere: list[int] = []
    if more:
        keep_reserved(Message, more.pop(0))
        if waiting:
            elsewhere = [row[0] for row in more.pop(0)]
    guessed = more[0] if guess is not None else None
    return _PENDING_REQUESTS.all_of(pending), snapshot, guessed, elsewhere


def _note_welcomed(
    pending: list[Conversation],
    snapshot: Snapshot,
    now: datetime,
    guessed: list[tuple[Any, ...]] | None,
) -> None:
    """D1's once-a-day check for the pass (``automatic.note_welcomed``; only when someone is
    free, else nobody is assigned now, nor welcomed): the rows of the guess sent with the lock
    when it asked what the settings ask today, else one round trip more."""
    rows = automatic.welcomed_guess_rows(
        snapshot.settings.shop_id, guessed, settings=snapshot.settings, now=now
    )
    if snapshot.anyone_free:
        automatic.note_welcomed(pending, settings=snapshot.settings, now=now, rows=rows)


def _route_one(conv: Conversation, snapshot: Snapshot, now: datetime) -> bool:
    """One pending request, under the shop's lock: decide, write, then the automatic replies,
    but for the queueing reply, which the pass sends once it has queued all it will (D3, C5:
    the positions from one read of the queue). Whether the request was queued."""
    conv._shop_settings = snapshot.settings  # type: ignore[attr-defined]  # read once per pass
    decision = engine.decide(
        routing_request(conv), snapshot.agents, snapshot.groups, snapshot.rules, now
    )
    chosen = conv.chosen_agent_id
    if (
        chosen is not None
        and snapshot.rules.buyer_chooses_agent
        and not (isinstance(decision, engine.Assign) and decision.agent_id == chosen)
    ):
        with translation.override(snapshot.settings.language):
            text = _("The agent you chose is not available now; we found you another way.")
        _notice(conv, text, now)
    apply_decision(conv, decision, snapshot, now, tell=False)
    automatic.offhours(conv, now=now, snapshot=snapshot)  # D2: asking is writing too
    return isinstance(decision, engine.Queue)


# ---------------------------------------------------------------------------------------------
# Closing, leaving, rating


def _closed(conv: Conversation, reason: CloseReason, now: datetime, notice: str = "") -> None:
    if conv.state == State.QUEUED:
        queue_news.touched(conv.shop_id)  # E1: left the queue (C5) or closed by staff
    automatic.closing(conv, reason=reason, notice=notice, now=now)  # D4, D5, D6
    release(conv)
    conv.state = State.CLOSED
    conv.closed_at = now
    conv.close_reason = reason
    timers.stop(conv)
    # SPEC I3: watching ends with the conversation; the watchers are told it closed.
    watchers, conv.watcher_ids = conv.watcher_ids, []
    save_conversation(conv)
    events.conversation_closed(conv, watcher_ids=watchers)


def conversation_close(
    *,
    conversation: Conversation,
    actor: Account | None,
    reason: CloseReason = CloseReason.AGENT,
    notice: str = "",
    now: datetime | None = None,
) -> Conversation:
    """End a conversation; the freed slot takes the next waiting buyer at once (C3).

    Staff may end what they hold; the main account and supervisors with ``view_all_history``
    may end any open one. ``actor`` None is the system (SPEC D5, D6), whose ``notice`` the buyer
    reads before the end; the rating request follows (D4)."""
    now = now or timezone.now()
    with transaction.atomic(), batched_events():
        lock_shop(conversation.shop_id)
        conv = _lock(conversation.pk)
        if conv.state == State.CLOSED:
            raise Conflict(_("This conversation is already closed."))
        supervisor = actor is not None and (actor.is_main or has_perm(actor, Perm.VIEW_ALL_HISTORY))
        if actor is not None and conv.agent_id != actor.pk and not supervisor:
            raise Forbidden(_("You do not hold this conversation."))
        _closed(conv, reason, now, notice)
        dispatch(shop_id=conv.shop_id, now=now)
    return conv


def conversation_leave(*, conversation: Conversation, now: datetime | None = None) -> Conversation:
    """C5: a queued buyer who wrote becomes an offline message (B11), else it closes as
    ``buyer_left``; from any other open state the buyer ends the conversation."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_shop(conversation.shop_id)
        conv = _lock(conversation.pk)
        if conv.state == State.CLOSED:
            raise Conflict(_("This conversation is already closed."))
        if conv.state == State.QUEUED and conv.buyer_wrote:
            snapshot = load_snapshot(conv.shop_id, now)
            request = routing_request(conv, left_queue=True)
            decision = engine.decide(request, snapshot.agents, snapshot.groups, snapshot.rules, now)
            if not isinstance(decision, engine.Keep):
                conv.left_queue_at = now  # G3: saved with the decision's write
            return apply_decision(conv, decision, snapshot, now)
        if conv.state == State.QUEUED:
            conv.left_queue_at = now  # G3: saved with the close
        _closed(conv, CloseReason.BUYER_LEFT, now)
        dispatch(shop_id=conv.shop_id, now=now)
    return conv


def conversation_rate(
    *, buyer: Buyer, score: int, comment: str = "", now: datetime | None = None
) -> Rating:
    """F4, D4: rate the buyer's latest conversation closed within 24 h, once."""
    now = now or timezone.now()
    if not 1 <= score <= 5:
        raise InvalidInput(_("A score from 1 to 5."), field="score")
    with transaction.atomic():
        conv = (
            Conversation.objects.select_for_update()
            .filter(
                shop_id=buyer.shop_id,
                buyer=buyer,
                state=State.CLOSED,
                closed_at__gte=now - RATING_WINDOW,
            )
            .order_by("-closed_at", "-id")
            .first()
        )
        if conv is None:
            raise Conflict(_("There is no recent conversation to rate."))
        if Rating.objects.filter(conversation=conv).exists():
            raise Conflict(_("This conversation is rated already."))
        rating = Rating.objects.create(
            shop_id=buyer.shop_id, conversation=conv, score=score, comment=comment.strip()
        )
        events.conversation_rated(conv)  # G2: today's ratings; H4: the shop's webhooks
        return rating


# ---------------------------------------------------------------------------------------------
# Transfer and claim


def conversation_transfer(
    *,
    conversation: Conversation,
    actor: Account,
    to_account: Account | None = None,
    to_group: Group | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Conversation:
    """B12: hand a conversation with its history to an online, unpaused account (even past its
    max), or to a group (routed within it, to the front of its queue when all are full)."""
    now = now or timezone.now()
    if (to_account is None) == (to_group is None):
        raise InvalidInput(_("Name either an account or a group."), field="to_account")
    with transaction.atomic():
        lock_shop(conversation.shop_id)
        conv = _lock(conversation.pk)
        # Seed 000 (第五步): the main account hands a pooled conversation (an offline message)
        # to an online agent of its choosing, as a transfer: the same checks and writer.
        from_pool = conv.state == State.POOLED and actor.is_main
        if conv.state != State.ACTIVE and not from_pool:
            raise Conflict(_("Only an active conversation can be transferred."))
        if conv.agent_id != actor.pk and not actor.is_main:
            raise Forbidden(_("You do not hold this conversation."))
        snapshot = load_snapshot(conv.shop_id, now)
        previous = conv.agent_id
        if to_account is not None:
            target = snapshot.agent(to_account.pk)
            if target is None or to_account.shop_id != conv.shop_id:
                raise NotFound(_("No such account."))
            if target.id == previous:
                raise InvalidInput(_("The conversation is already there."), field="to_account")
            if not (target.can_chat and target.status == engine.Status.ONLINE):
                raise Conflict(_("That account is not online."))
            decision: engine.Decision = engine.Assign(
                target.id,
                engine.Reason.POOL if from_pool else engine.Reason.TRANSFER,
                not target.below_max,
                engine.Candidates(frozenset({target.id})),
            )
        else:
            assert to_group is not None
            if to_group.shop_id != conv.shop_id:
                raise NotFound(_("No such group."))
            request = routing_request(
                conv,
                candidate_ids=snapshot.members_of(to_group.pk) - {previous or 0},
                candidate_group_ids=frozenset({to_group.pk}),
                transfer=True,
            )
            decision = engine.decide(request, snapshot.agents, snapshot.groups, snapshot.rules, now)
            if isinstance(decision, engine.Refuse):
                raise Conflict(_("Nobody in that group can take the conversation now."))
        release(conv, snapshot)
        apply_decision(conv, decision, snapshot, now, front=True)
        note = note.strip()
        if note:
            _transfer_note(conv, actor, note, now)
        events.conversation_transferred(conv, from_account=previous, note=note)
        if from_pool:  # the buyer hears from its agent (D1's welcome); no slot freed
            return conv
        _transferred(conv, now, snapshot)
    return conv


def _transfer_note(conv: Conversation, author: Account, body: str, now: datetime) -> InternalNote:
    """Amended B12 / I3: a transfer's note is an internal note (staff only, never in the
    buyer's messages or stream), stored with the transfer so that whoever takes the conversation
    later (a group's queue, the pool) still reads it."""
    return InternalNote.objects.create(
        shop_id=conv.shop_id,
        conversation=conv,
        author=author,
        kind=NoteKind.TRANSFER,
        body=body,
        created_at=now,
    )


def _transferred(conv: Conversation, now: datetime, snapshot: Snapshot) -> None:
    """B12: after a transfer between agents, the buyer's notice in the shop's language, and the
    slot it freed to the next waiting buyer."""
    with translation.override(_language(conv.shop_id)):
        text = _("You have been transferred to another agent, who can see your conversation.")
    _notice(conv, text, now)
    dispatch(shop_id=conv.shop_id, now=now, snapshot=snapshot)


def conversation_claim(
    *, conversation: Conversation, actor: Account, now: datetime | None = None
) -> Conversation:
    """B11: an agent takes a pooled conversation by hand, within its max concurrent."""
    now = now or timezone.now()
    if not has_perm(actor, Perm.CHAT):
        raise Forbidden(_("You do not have the chat permission."))
    with transaction.atomic():
        lock_shop(conversation.shop_id)
        conv = _lock(conversation.pk)
        if conv.state != State.POOLED:
            raise Conflict(_("Only conversations in the message pool can be claimed."))
        snapshot = load_snapshot(conv.shop_id, now)
        me = snapshot.agent(actor.pk)
        if me is None or me.status == engine.Status.OFFLINE:
            raise Conflict(_("Go online to claim conversations."))
        if not me.below_max and not actor.is_main:
            raise Conflict(_("You are at your maximum of concurrent buyers."))
        apply_assign(
            conv,
            engine.Assign(actor.pk, engine.Reason.POOL, not me.below_max, engine.Candidates(None)),
            snapshot,
            now,
        )
    return conv


def conversation_take_over(
    *, conversation: Conversation, actor: Account, now: datetime | None = None
) -> Conversation:
    """SPEC I3 (amended): a supervisor takes a live conversation over. The entry point checks
    who may (the main account, or ``view_monitor`` with ``chat``); this is B12's transfer to an
    account, to the supervisor itself: past its max like any transfer to an account, the agent
    it leaves told (``conversation.transferred``), the buyer the transfer notice, the freed slot
    to the next waiting buyer. Decided here (docs/realtime.md, "Supervision"):

    - the supervisor must be there, online or paused (paused keeps conversations, B10; it
      receives no new buyers by taking one over), never offline: an offline holder would leave
      the buyer unanswered;
    - it stops watching it (it holds it now), other watchers keep watching;
    - an internal note (kind ``transfer``) records who took it from whom, in the shop's
      language, so that the history shows it;
    - its assign reason is ``transfer``; taking over one's own conversation changes nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        lock_shop(conversation.shop_id)
        conv = _lock(conversation.pk)
        if conv.state != State.ACTIVE:
            raise Conflict(_("Only a live conversation (with an agent now) can be taken over."))
        if conv.agent_id == actor.pk:
            return conv
        snapshot = load_snapshot(conv.shop_id, now)
        me = snapshot.agent(actor.pk)
        if me is None or not me.present:
            raise Conflict(_("Go online to take over a conversation."))
        previous = conv.agent_id
        conv.watcher_ids = [pk for pk in conv.watcher_ids if pk != actor.pk]
        release(conv, snapshot)
        apply_assign(
            conv,
            engine.Assign(
                actor.pk,
                engine.Reason.TRANSFER,
                not me.below_max,
                engine.Candidates(frozenset({actor.pk})),
            ),
            snapshot,
            now,
        )
        former = Account.objects.filter(pk=previous).first() if previous is not None else None
        with translation.override(_language(conv.shop_id)):
            body = _("Taken over from %(agent)s by %(supervisor)s.") % {
                "agent": former.label if former is not None else "?",
                "supervisor": actor.label,
            }
        note = _transfer_note(conv, actor, body, now)
        # The agent it came from and the supervisor (no transfer note in it: the note is its
        # own event, to the holder and the watchers, and stays in the notes for everyone).
        events.conversation_transferred(conv, from_account=previous, note="")
        events.note_created(conv, note)
        _transferred(conv, now, snapshot)
    return conv


def agents_for_buyer_choice(*, shop_id: int) -> list[AgentState]:
    """B7: the online and paused agents a buyer may choose: those who receive buyers (the main
    account, or the chat permission, A4), as the engine would give them a buyer."""
    rows = AgentState.objects.receiving_buyers(shop_id).present()
    return list(rows.select_related("account").order_by("account_id"))


# ---------------------------------------------------------------------------------------------
# Queue figures pushed to waiting buyers (C5), coalesced


def queue_push_updates(*, shop_id: int) -> int:
    """Send ``queue.updated`` to each waiting buyer whose figures changed since the last push.

    Run periodically (every few seconds) instead of one event per buyer per dispatch (DESIGN,
    events). Returns how many buyers were told."""
    figures = queue_figures_all(shop_id=shop_id)
    told = 0
    with transaction.atomic():
        rows = Conversation.objects.select_for_update(skip_locked=True).filter(
            shop_id=shop_id, pk__in=list(figures), state=State.QUEUED
        )
        for conversation in rows:
            data = figures[conversation.pk].as_dict()
            if conversation.queue_pushed == data:
                continue
            conversation.queue_pushed = data
            conversation.save(update_fields=["queue_pushed"])
            events.queue_updated(conversation, data)
            told += 1
    return told


# ---------------------------------------------------------------------------------------------
# Writing from either side (REST and the sockets share these)


def agent_may_write(*, account: Account, conversation: Conversation) -> bool:
    """An agent writes (and shows typing) only in a conversation it holds."""
    return conversation.state == State.ACTIVE and conversation.agent_id == account.pk


def buyer_open_conversation(*, buyer: Buyer) -> Conversation | None:
    return (
        _open_of(buyer.shop_id, buyer.pk)
        .select_related("buyer", "product", "order", "shop")
        .first()
    )


def buyer_message_send(
    *, buyer: Buyer, entrance: str, body: str, client_id: str = ""
) -> tuple[Message, bool]:
    """The buyer writes: into its open conversation, or, after the end, a new one with the
    service assistant (API.md, buyer widget). Idempotent on ``client_id``.

    The usual case, an open conversation, is found and locked in one query, which also reads
    the shop's settings, whether its agent is there and whether this is a resend."""
    checked = _checked_body(body)
    with transaction.atomic():
        held = _LOCK_OPEN_FOR_MESSAGE.first(
            shop_id=buyer.shop_id, buyer_id=buyer.pk, client_id=client_id
        )
        if held is not None:
            held.buyer = buyer
            return _message_create_locked(
                held,
                sender=Sender.BUYER,
                body=checked,
                agent=None,
                client_id=client_id,
                kind=MessageKind.TEXT,
                now=timezone.now(),
            )
    # No open conversation (a new one opened meanwhile is found by ``conversation_open``).
    if client_id:  # a resend after the end answers the stored one
        existing = Message.objects.filter(
            shop_id=buyer.shop_id,
            conversation__buyer=buyer,
            sender=Sender.BUYER,
            client_id=client_id,
        ).first()
        if existing is not None:
            return existing, False
    # SPEC I6: a blocked word refuses the message before a new conversation opens for it.
    checked = _screened(_buyer_settings(buyer), Sender.BUYER, checked)
    conversation = conversation_open(buyer=buyer, entrance=entrance)
    return message_create(
        conversation=conversation, sender=Sender.BUYER, body=checked, client_id=client_id
    )
