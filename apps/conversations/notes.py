"""Staff notes: internal notes on a conversation (SPEC I3) and who reads the notes on a buyer's
orders (SPEC E4).

Internal notes are their own rows (``InternalNote``), never messages: no buyer API reads them
and no event carries them to a buyer's stream. Who may read or write them is who may see the
conversation (``selectors.conversation_get``, checked by the entry point that loads it)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.conversations import events
from apps.conversations.models import Conversation, InternalNote, NoteKind
from apps.conversations.selectors import conversations_visible_to
from apps.core.errors import InvalidInput
from apps.shopdata.models import Order

NOTE_MAX = 2000


def internal_notes(conversation: Conversation) -> QuerySet[InternalNote]:
    """I3: the conversation's notes (its transfer notes included), oldest first, as the chat."""
    return (
        InternalNote.objects.filter(shop_id=conversation.shop_id, conversation=conversation)
        .select_related("author__shop")
        .order_by("created_at", "id")
    )


def internal_note_add(
    *, conversation: Conversation, author: Account, body: str, now: datetime | None = None
) -> InternalNote:
    """I3: a note on the conversation for the shop's staff only; ``note.created`` tells the
    holding agent and the author's other sessions at once."""
    body = body.strip()
    if not body:
        raise InvalidInput(_("A note cannot be empty."), field="body")
    if len(body) > NOTE_MAX:
        raise InvalidInput(
            _("A note has at most %(n)d characters.") % {"n": NOTE_MAX}, field="body"
        )
    with transaction.atomic():
        note = InternalNote.objects.create(
            shop_id=conversation.shop_id,
            conversation=conversation,
            author=author,
            kind=NoteKind.NOTE,
            body=body,
            created_at=now or timezone.now(),
        )
        # Live to the agent who holds the conversation and to the author's other sessions,
        # never to the buyer (the catalogue picks them).
        events.note_created(conversation, note)
    return note


def may_read_order_notes(*, account: Account, order: Order) -> bool:
    """E4 (API.md, order notes): staff who may see a conversation of the order's buyer (SPEC
    E6), and those who write the notes (the main account, ``handle_orders``)."""
    if account.shop_id != order.shop_id:
        return False
    if has_perm(account, Perm.HANDLE_ORDERS):
        return True
    return conversations_visible_to(account).filter(buyer_id=order.buyer_id).exists()
