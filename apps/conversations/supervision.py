"""Supervision (SPEC I3, amended): the main account and ``view_monitor`` accounts watch a live
conversation; with ``chat`` too (the main account always) they may take it over.

Watching adds the account to the conversation's ``watcher_ids``: from then on the event
catalogue sends it the conversation's events as it sends them to the holding agent
(``events._holder``: messages, recalls, notes, state changes), so a supervisor sees the chat
live and reads it through the same REST endpoints (``selectors.conversations_visible_to``). The
list lives on the conversation's row, which every hot path reads anyway: a buyer's message to a
watched conversation costs no query more than to another. It changes only here, under the row's
lock (as every writer of the row holds it, nothing saves an older list over it), and the
lifecycle empties it when the conversation closes (``transitions._closed``); taking over is a
transition of the lifecycle (``lifecycle.conversation_take_over``), which also removes the new
holder from the list.

Permissions are the entry points' (``view_monitor`` or the main account; ``chat`` too to take
over); this module checks only the conversation's state.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations.models import Conversation, Message, State
from apps.conversations.payloads import (
    ConversationData,
    MessageData,
    conversation_payload,
    message_payload,
)
from apps.conversations.privacy import message_view
from apps.core.errors import Conflict

# At most this many accounts watch one conversation at once (each is one more recipient of
# every event of the chat).
MAX_WATCHERS = 10


def _locked(conversation_id: int) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("buyer", "product", "order")
        .get(pk=conversation_id)
    )


def conversation_watch(*, conversation: Conversation, account: Account) -> Conversation:
    """``account`` watches ``conversation`` (live only: ``active``) until it stops, takes it
    over, or the conversation closes. Watching again changes nothing."""
    with transaction.atomic():
        conv = _locked(conversation.pk)
        if conv.state != State.ACTIVE:
            raise Conflict(_("Only a live conversation (with an agent now) can be watched."))
        if conv.agent_id == account.pk:
            raise Conflict(_("You hold this conversation: it is in your own list."))
        if account.pk not in conv.watcher_ids:
            if len(conv.watcher_ids) >= MAX_WATCHERS:
                raise Conflict(
                    _("At most %(n)d people can watch a conversation at once.")
                    % {"n": MAX_WATCHERS}
                )
            conv.watcher_ids = [*conv.watcher_ids, account.pk]
            conv.save(update_fields=["watcher_ids"])
    return conv


def conversation_unwatch(*, conversation: Conversation, account: Account) -> None:
    """``account`` stops watching ``conversation``; nothing happens if it was not watching."""
    if account.pk not in conversation.watcher_ids:  # as the caller read it: nothing to do
        return
    with transaction.atomic():
        conv = _locked(conversation.pk)
        if account.pk in conv.watcher_ids:
            conv.watcher_ids = [pk for pk in conv.watcher_ids if pk != account.pk]
            conv.save(update_fields=["watcher_ids"])


class LiveConversationData(ConversationData):
    """A conversation of ``GET /conversations/live/``: as GET shows it, with its agent's name,
    its last message (null before the first) and whether the caller watches it."""

    agent_name: str
    last_message: MessageData | None
    watching: bool


def live_conversations(*, shop_id: int) -> QuerySet[Conversation]:
    """The shop's live conversations (``active``: with an agent now), longest served first,
    with their agent and the id of their last message (by ``last_seq``) read in the same
    query: what a supervisor picks one to watch from."""
    last = Message.objects.filter(conversation_id=OuterRef("pk"), seq=OuterRef("last_seq"))
    return (
        Conversation.objects.filter(shop_id=shop_id, state=State.ACTIVE)
        .select_related("buyer", "product", "order", "agent")
        .annotate(last_message_id=Subquery(last.values("pk")[:1]))
        .order_by("assigned_at", "id")
    )


def live_conversations_data(
    conversations: Sequence[Conversation], *, account: Account
) -> list[LiveConversationData]:
    """``conversations`` (of ``live_conversations``) as the supervisor's list shows them: their
    last messages in one query more."""
    ids = [c.last_message_id for c in conversations if c.last_message_id]  # type: ignore[attr-defined]
    messages = Message.objects.select_related("attachment").in_bulk(ids)
    shown = message_view(account)  # SPEC I6: masked without view_buyer_info
    rows: list[LiveConversationData] = []
    for c in conversations:
        last = messages.get(c.last_message_id)  # type: ignore[attr-defined]
        rows.append(
            {
                **conversation_payload(c),
                "agent_name": c.agent.label if c.agent is not None else "",
                "last_message": shown(message_payload(last)) if last is not None else None,
                "watching": account.pk in c.watcher_ids,
            }
        )
    return rows
