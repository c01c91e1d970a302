"""One factory per shop-owned model that a route's id can point to (see ``isolation``).

Each creates, in the given shop, objects as the shop's own code would (through the services), with
distinctive values, so that the isolation check can see a leak. Add one for every new model an
API route looks up by id; the isolation test fails and points here until you do."""

from __future__ import annotations

import itertools

from apps.accounts import services as account_services
from apps.accounts.models import Account, AccountKind
from apps.accounts.permissions import Perm
from apps.core.testing.isolation import register_tenant_factory
from apps.routing.models import Group
from apps.shops.models import Shop

PROBE_PASSWORD = "probe-Passw0rd-of-the-other-shop"
_serial = itertools.count(1)


def main_account(shop: Shop) -> Account:
    return Account.objects.get(shop=shop, kind=AccountKind.MAIN)


@register_tenant_factory(Account)
def make_accounts(shop: Shop) -> list[Account]:
    """A sub-account with permissions, a routing state and a token, and the main account."""
    sub = account_services.account_create(
        actor=main_account(shop),
        name=f"isolation-target-{next(_serial)}",
        password=PROBE_PASSWORD,
        display_name=f"{shop.slug} private agent",
        permissions={Perm.CHAT, Perm.VIEW_ALL_HISTORY},
        weight=37,
    )
    account_services.token_for(sub)
    return [sub, main_account(shop)]


@register_tenant_factory(Group)
def make_group(shop: Shop) -> Group:
    return Group.objects.create(
        shop=shop,
        name=f"{shop.slug} private group {next(_serial)}",
        max_concurrent=7,
        scope_segments=["member:gold"],
    )
