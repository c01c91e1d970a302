"""The main account's private contacts (SPEC B8): buyers named by external id, whose
conversations always go to the main account. Permission checks happen at the entry points;
everything is scoped to the actor's shop (another shop's contact answers 404, SPEC A1).

A change applies to the buyer's next routing decision (``selectors.routing_request`` reads the
list when a buyer asks for a human); a conversation already with an agent keeps its course, and
one assigned as a private contact stays one until it ends (re-routing reads its reason).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations.models import PrivateContact
from apps.core.errors import NotFound
from apps.shopdata.services import buyer_identify


@transaction.atomic
def private_contact_add(*, actor: Account, buyer_external_id: str) -> PrivateContact:
    """Put the buyer on the list (idempotent); a buyer the shop has not pushed yet is stored
    by its external id (H2 fills in the rest later)."""
    buyer, _created = buyer_identify(
        shop_id=actor.shop_id, external_id=buyer_external_id, field="buyer"
    )
    contact, _created = PrivateContact.objects.get_or_create(shop_id=actor.shop_id, buyer=buyer)
    return contact


@transaction.atomic
def private_contact_remove(*, actor: Account, buyer_external_id: str) -> None:
    """Take the buyer off the list; the buyer itself stays. Unknown (or another shop's): 404."""
    if "\x00" in buyer_external_id:  # no external id holds one (and PostgreSQL cannot compare it)
        raise NotFound(_("No such private contact."))
    deleted, _rows = PrivateContact.objects.filter(
        shop_id=actor.shop_id, buyer__external_id=buyer_external_id
    ).delete()
    if not deleted:
        raise NotFound(_("No such private contact."))
