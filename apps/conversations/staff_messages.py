"""Staff messages (seed 001: 子帐号发给主帐号的消息不会分流): inside the workbench, a staff
account writes to the shop's main account, and the main account to any of its staff. These are
never conversations and never routed; the recipient gets ``staff_message.created`` on its agent
stream (the sender's other sessions too). Everything is scoped by the caller's shop: another
shop's account id is 404 (SPEC A1)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.accounts.selectors import account_get
from apps.conversations import events
from apps.core.errors import InvalidInput
from apps.shops.models import StaffMessage

BODY_MAX = 2000


def staff_messages_of(*, account: Account, other_id: int | None = None) -> QuerySet[StaffMessage]:
    """The messages ``account`` sent or received, newest first; with ``other_id``, only those
    exchanged with that account of the shop (another shop's: 404)."""
    rows = StaffMessage.objects.filter(shop_id=account.shop_id).filter(
        Q(sender_id=account.pk) | Q(recipient_id=account.pk)
    )
    if other_id is not None:
        other = account_get(shop_id=account.shop_id, account_id=other_id)
        rows = rows.filter(Q(sender_id=other.pk) | Q(recipient_id=other.pk))
    return rows.select_related("sender__shop", "recipient__shop").order_by("-created_at", "-id")


def staff_message_send(
    *, sender: Account, to_id: object, body: str, now: datetime | None = None
) -> StaffMessage:
    """Seed 001: a sub-account writes to the main account; the main account to any active
    account of its shop. Never routed, never a buyer's."""
    recipient = account_get(shop_id=sender.shop_id, account_id=to_id)  # foreign: 404
    body = body.strip()
    if not body:
        raise InvalidInput(_("A message cannot be empty."), field="body")
    if len(body) > BODY_MAX:
        raise InvalidInput(
            _("A message has at most %(n)d characters.") % {"n": BODY_MAX}, field="body"
        )
    if recipient.pk == sender.pk:
        raise InvalidInput(_("Write to somebody else."), field="to")
    if not sender.is_main and not recipient.is_main:
        raise InvalidInput(_("Sub-accounts write to the main account only."), field="to")
    if not recipient.is_active:
        raise InvalidInput(_("That account is disabled."), field="to")
    with transaction.atomic():
        message = StaffMessage.objects.create(
            shop_id=sender.shop_id,
            sender=sender,
            recipient=recipient,
            body=body,
            created_at=now or timezone.now(),
        )
        events.staff_message_created(message, sender, recipient)
    return message
