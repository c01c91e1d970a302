"""The one module of named permissions (SPEC A4), checked at the entry points.

No DRF here: the sockets and pages check these too (the REST API's permission classes, built
on them, are ``apps.accounts.api_permissions``).

Permissions are django-guardian object permissions on the account's shop. The main account holds
every permission, always, whatever is stored.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from guardian.shortcuts import assign_perm, get_perms, remove_perm

from apps.core.realtime import account_group, send_to_group_on_commit

if TYPE_CHECKING:
    from apps.accounts.models import Account


class Perm(StrEnum):
    CHAT = "chat"
    MANAGE_ROUTING = "manage_routing"
    MANAGE_ACCOUNTS = "manage_accounts"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_ALL_HISTORY = "view_all_history"
    VIEW_MONITOR = "view_monitor"
    HANDLE_ORDERS = "handle_orders"
    HANDLE_AFTER_SALES = "handle_after_sales"
    # SPEC I6: buyers' phone numbers and addresses unmasked (apps.safety.pii); the main account
    # holds it, a sub-account only when given.
    VIEW_BUYER_INFO = "view_buyer_info"


ALL_PERMS: tuple[Perm, ...] = tuple(Perm)
# What a new sub-account gets when the creator names none: it can receive buyers.
DEFAULT_SUB_PERMS: tuple[Perm, ...] = (Perm.CHAT,)


def has_perm(account: Account, perm: Perm) -> bool:
    if not account.is_active:
        return False
    if account.is_main:
        return True
    return account.has_perm(f"shops.{perm.value}", account.shop)


def perms_of(account: Account) -> list[str]:
    """The account's permissions, in the order of :class:`Perm`."""
    if account.is_main:
        return [p.value for p in ALL_PERMS]
    held = set(get_perms(account, account.shop))
    return [p.value for p in ALL_PERMS if p.value in held]


# A channel-layer message to an account's sockets: its permissions changed, what they show may
# too (SPEC I6: the agent socket masks buyers' personal information unless the account may see
# it; ``apps.events.consumers.StreamConsumer.access_changed``).
ACCESS_CHANGED = {"type": "access.changed"}


def set_perms(account: Account, perms: set[Perm]) -> None:
    """Store exactly ``perms`` for a sub-account (the main account's are implicit)."""
    held = {Perm(p) for p in get_perms(account, account.shop) if p in Perm._value2member_map_}
    for perm in perms - held:
        assign_perm(f"shops.{perm.value}", account, account.shop)
    for perm in held - perms:
        remove_perm(f"shops.{perm.value}", account, account.shop)
    if Perm.VIEW_BUYER_INFO in perms ^ held:
        send_to_group_on_commit(account_group(account.pk), ACCESS_CHANGED)
