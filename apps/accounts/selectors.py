"""Reads and access helpers: every lookup is scoped to the caller's shop first."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Account
from apps.core.selectors import get_by_id


def accounts_of_shop(*, shop_id: int) -> QuerySet[Account]:
    """Main account first, then sub-accounts by creation."""
    return (
        Account.objects.filter(shop_id=shop_id)
        .select_related("shop", "agent_state", "agent_state__group")
        .order_by("kind", "id")  # "main" sorts before "sub"
    )


def account_get(*, shop_id: int, account_id: object) -> Account:
    """The shop's account with that id; missing and foreign both raise NotFound."""
    return get_by_id(accounts_of_shop(shop_id=shop_id), account_id, "No such account.")
