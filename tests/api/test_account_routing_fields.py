"""A routing manager sets the account fields that route buyers (group, weight, max: SPEC A4
puts groups under manage_routing), through the API as on the groups page; everything else of an
account stays manage_accounts'."""

from __future__ import annotations

import pytest

from apps.accounts.permissions import Perm
from apps.routing.models import AgentState, Group
from conftest import ShopKit

pytestmark = pytest.mark.django_db


def test_a_routing_manager_sets_group_weight_and_max_and_nothing_else(shop_a: ShopKit):
    group = Group.objects.create(shop=shop_a.shop, name="售前")
    agent = shop_a.sub("agent", {Perm.CHAT})
    router = shop_a.client(shop_a.sub("router", {Perm.CHAT, Perm.MANAGE_ROUTING}))
    url = f"/api/v1/accounts/{agent.pk}/"

    moved = router.patch(url, {"group": group.pk, "weight": 30, "max_concurrent": 4}, "json")
    assert moved.status_code == 200, moved.json()
    state = AgentState.objects.get(account=agent)
    assert (state.group_id, state.weight, state.max_concurrent) == (group.pk, 30, 4)

    # anything else of the account, even beside a routing field, needs manage_accounts
    for body in ({"display_name": "x"}, {"weight": 5, "permissions": ["chat"]}):
        assert router.patch(url, body, "json").status_code == 403
    assert AgentState.objects.get(account=agent).weight == 30
    # and an agent with neither permission changes nothing
    plain = shop_a.client(shop_a.sub("plain", {Perm.CHAT}))
    assert plain.patch(url, {"weight": 1}, "json").status_code == 403


def test_a_routing_manager_cannot_move_a_more_privileged_colleague(shop_a: ShopKit):
    boss = shop_a.sub("boss", {Perm.CHAT, Perm.MANAGE_ROUTING, Perm.MANAGE_SETTINGS})
    router = shop_a.client(shop_a.sub("router", {Perm.CHAT, Perm.MANAGE_ROUTING}))
    refused = router.patch(f"/api/v1/accounts/{boss.pk}/", {"weight": 1}, "json")
    assert refused.status_code == 403  # amended A4
    assert AgentState.objects.get(account=boss).weight != 1
