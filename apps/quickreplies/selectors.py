"""Reading quick replies (SPEC D7): what an account may see, search and be offered."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.core.errors import NotFound
from apps.quickreplies.matching import matched_keywords
from apps.quickreplies.models import QuickReply


def replies_visible_to(account: Account) -> QuerySet[QuickReply]:
    """The shop-wide replies of the account's shop and its own personal ones."""
    return QuickReply.objects.filter(
        Q(owner__isnull=True) | Q(owner=account), shop_id=account.shop_id
    ).order_by(F("owner_id").asc(nulls_first=True), "category", "position", "id")


def replies_for(account: Account, *, q: str = "", category: str | None = None) -> list[QuickReply]:
    """``replies_visible_to``, shop-wide first; ``q`` searches the text and the keywords (a
    keyword matches when it contains ``q`` or ``q`` contains it), ``category`` filters."""
    rows = replies_visible_to(account)
    if category is not None:
        rows = rows.filter(category=category)
    replies = list(rows)
    q = q.strip()
    if not q:
        return replies
    needle = q.casefold()
    return [
        r
        for r in replies
        if needle in r.text.casefold()
        or any(needle in k.casefold() for k in r.keywords)
        or matched_keywords(r.keywords, q)
    ]


def reply_get(*, account: Account, reply_id: object) -> QuickReply:
    """One reply the account may see; another shop's or another account's personal one is
    missing (SPEC A1, API.md)."""
    try:
        return replies_visible_to(account).get(pk=int(str(reply_id)))
    except (QuickReply.DoesNotExist, ValueError):
        raise NotFound(_("No such quick reply.")) from None
