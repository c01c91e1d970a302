"""Recalling one's own message (SPEC I1): within two minutes of sending it, the buyer or the agent
who sent a message takes it back. The row stays (its body too, for the shop's audit), marked
``recalled_at``; every API answer and stream shows it recalled from then on (``recalled: true``,
an empty body, no image), and both sides get ``message.updated``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations import events
from apps.conversations.models import Conversation, Message, Sender
from apps.core.errors import Conflict, Forbidden, NotFound
from apps.shopdata.models import Buyer

RECALL_WINDOW = timedelta(minutes=2)


def _recall(
    messages: QuerySet[Message], *, is_own: Callable[[Message], bool], now: datetime | None
) -> Message:
    now = now or timezone.now()
    with transaction.atomic():
        message = (
            messages.select_for_update(of=("self",))
            .select_related("conversation", "attachment")
            .first()
        )
        if message is None:
            raise NotFound(_("No such message."))
        if not is_own(message):
            raise Forbidden(_("You can only recall your own messages."))
        if message.recalled_at is not None:
            return message  # a repeat: already done, nothing more to tell
        if now - message.created_at > RECALL_WINDOW:
            raise Conflict(
                _("A message can be recalled within %(minutes)d minutes of sending it.")
                % {"minutes": RECALL_WINDOW.seconds // 60}
            )
        message.recalled_at = now
        message.save(update_fields=["recalled_at"])
        events.message_updated(message.conversation, message)
    return message


def agent_message_recall(
    *, account: Account, conversation: Conversation, message_id: int, now: datetime | None = None
) -> Message:
    """The agent who sent ``message_id`` in ``conversation`` (one the caller may see, read
    through ``conversation_get``) recalls it."""
    return _recall(
        Message.objects.filter(shop_id=account.shop_id, conversation=conversation, pk=message_id),
        is_own=lambda m: m.sender == Sender.AGENT and m.agent_id == account.pk,
        now=now,
    )


def buyer_message_recall(*, buyer: Buyer, message_id: int, now: datetime | None = None) -> Message:
    """The buyer recalls its own message ``message_id``, in any of its conversations."""
    return _recall(
        Message.objects.filter(shop_id=buyer.shop_id, conversation__buyer=buyer, pk=message_id),
        is_own=lambda m: m.sender == Sender.BUYER,
        now=now,
    )
