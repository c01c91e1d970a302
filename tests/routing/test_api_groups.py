"""Routing groups through the API (API.md, groups; SPEC A4, B2-B4, C1)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle as conv
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import State
from apps.routing.models import AgentState, AgentStatus, Group
from apps.shopdata.models import Buyer
from tests.support.widget import widget_client

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

GROUPS = "/api/v1/groups/"
EMPTY_SCOPE = {"segments": [], "products": [], "intents": [], "order_statuses": []}


def detail(group: Group | int) -> str:
    return f"{GROUPS}{group if isinstance(group, int) else group.pk}/"


def rows(kit: Any) -> list[dict[str, Any]]:
    return list(Group.objects.filter(shop=kit.shop).order_by("pk").values())


# Creating


def test_main_account_creates_a_group_with_a_reception_scope(shop_a):
    # SPEC B3, B4: a name, an optional scope on four dimensions, an optional default max
    response = shop_a.client().post(
        GROUPS,
        {
            "name": "金牌会员",
            "max_concurrent": 8,
            "scope": {
                "segments": ["member:gold", "member:gold", "region:zhejiang"],
                "products": ["sku-1", "category:shoes"],
                "intents": ["refund"],
                "order_statuses": ["paid", "after_sale"],
            },
        },
        format="json",
    )
    # then it is stored and answered with its scope (values once each)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["max_concurrent"], body["members"]) == ("金牌会员", 8, [])
    assert body["scope"] == {
        "segments": ["member:gold", "region:zhejiang"],
        "products": ["category:shoes", "sku-1"],
        "intents": ["refund"],
        "order_statuses": ["after_sale", "paid"],
    }
    group = Group.objects.get(pk=body["id"], shop=shop_a.shop)
    assert group.scope_products == ["category:shoes", "sku-1"]


def test_a_group_without_a_scope_has_empty_lists(shop_a):
    # API.md: scope and each of its lists are optional (empty by default)
    response = shop_a.client().post(GROUPS, {"name": "售前"}, format="json")
    assert response.status_code == 201
    assert response.json()["scope"] == EMPTY_SCOPE
    assert response.json()["max_concurrent"] is None


def test_sub_account_with_manage_routing_creates_a_group(shop_a):
    # SPEC A4: groups need manage_routing
    router = shop_a.sub("router", {Perm.MANAGE_ROUTING})
    response = shop_a.client(router).post(GROUPS, {"name": "售后"}, format="json")
    assert response.status_code == 201
    assert [g["name"] for g in rows(shop_a)] == ["售后"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "g", "max_concurrent": 0}, "max_concurrent"),
        ({"name": "g", "max_concurrent": 51}, "max_concurrent"),
        ({"name": "g", "scope": {"order_statuses": ["lost"]}}, "scope"),
        ({"name": "g", "scope": {"segments": "member:gold"}}, "scope"),
        ({"name": "g", "scope": ["member:gold"]}, "scope"),
    ],
)
def test_bad_group_is_refused_and_nothing_is_stored(shop_a, body, field):
    # API.md General: 400 with the field; SPEC N: nothing stored
    response = shop_a.client().post(GROUPS, body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert rows(shop_a) == []


def test_group_names_are_unique_per_shop(shop_a, shop_b):
    # SPEC A1: the same name in another shop is fine; twice in one shop is not
    Group.objects.create(shop=shop_b.shop, name="售前")
    client = shop_a.client()
    assert client.post(GROUPS, {"name": "售前"}, format="json").status_code == 201
    before = rows(shop_a)
    response = client.post(GROUPS, {"name": " 售前 "}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["name"]
    assert rows(shop_a) == before


@pytest.mark.parametrize(
    "perms", [set(), {Perm.CHAT}, {Perm.MANAGE_SETTINGS, Perm.MANAGE_ACCOUNTS}]
)
def test_sub_account_without_manage_routing_cannot_change_groups(shop_a, perms):
    # SPEC A4: 403 for create, change and delete; nothing changes
    group = Group.objects.create(shop=shop_a.shop, name="售前", max_concurrent=3)
    client = shop_a.client(shop_a.sub("someone", perms))
    before = rows(shop_a)
    assert client.post(GROUPS, {"name": "新"}, format="json").status_code == 403
    assert client.patch(detail(group), {"name": "改"}, format="json").status_code == 403
    assert client.delete(detail(group)).status_code == 403
    assert rows(shop_a) == before


def test_groups_need_a_signed_in_staff_member(shop_a, anon):
    # API.md General: 401 unauthenticated, and a buyer token is no staff token
    group = Group.objects.create(shop=shop_a.shop, name="售前")
    buyer = widget_client(shop_a.shop)
    for client in (anon, buyer):
        assert client.get(GROUPS).status_code == 401
        assert client.get(detail(group)).status_code == 401
        assert client.post(GROUPS, {"name": "新"}, format="json").status_code == 401
        assert client.delete(detail(group)).status_code == 401
    assert [g["name"] for g in rows(shop_a)] == ["售前"]


# Reading


def test_every_agent_sees_this_shops_groups_with_their_members(shop_a, shop_b):
    # SPEC B3: an account is in at most one group; agents see the groups (transfer needs them)
    ours = Group.objects.create(shop=shop_a.shop, name="售前")
    Group.objects.create(shop=shop_b.shop, name="theirs")
    agent = shop_a.sub("agent1", {Perm.CHAT}, group=ours)
    response = shop_a.client(agent).get(GROUPS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [(g["name"], g["members"]) for g in body["results"]] == [("售前", [agent.pk])]
    assert shop_a.client(agent).get(detail(ours)).json()["members"] == [agent.pk]


@pytest.mark.parametrize("pk", ["999999", "abc", "0"])
def test_unknown_group_is_404(shop_a, pk):
    # API.md General: 404 unknown
    response = shop_a.client().get(f"{GROUPS}{pk}/")
    assert response.status_code == 404 and set(response.json()) == {"detail"}


# Changing and deleting


def test_changing_a_scope_replaces_it_as_a_whole_and_keeps_the_rest(shop_a):
    # API.md: PATCH any subset; a `scope` sent is the new scope
    group = Group.objects.create(
        shop=shop_a.shop, name="售前", max_concurrent=4, scope_segments=["vip"], scope_intents=["a"]
    )
    response = shop_a.client().patch(
        detail(group), {"scope": {"products": ["sku-9"]}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == {**EMPTY_SCOPE, "products": ["sku-9"]}
    group.refresh_from_db()
    assert (group.name, group.max_concurrent, group.scope_segments) == ("售前", 4, [])
    response = shop_a.client().patch(detail(group), {"name": "售前二组"}, format="json")
    assert response.status_code == 200
    group.refresh_from_db()
    assert (group.name, group.scope_products) == ("售前二组", ["sku-9"])


def test_renaming_a_group_onto_another_is_refused(shop_a):
    group = Group.objects.create(shop=shop_a.shop, name="售前")
    Group.objects.create(shop=shop_a.shop, name="售后")
    before = rows(shop_a)
    response = shop_a.client().patch(detail(group), {"name": "售后"}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["name"]
    assert rows(shop_a) == before


def test_put_is_not_offered_on_a_group(shop_a):
    # API.md lists GET, PATCH, DELETE
    group = Group.objects.create(shop=shop_a.shop, name="售前")
    assert shop_a.client().put(detail(group), {"name": "x"}, format="json").status_code == 405


def test_raising_a_groups_max_hands_its_waiting_buyer_to_its_agent(shop_a):
    # SPEC C1 (the group's max applies to its members), C3: a raised max takes the next buyer
    group = Group.objects.create(shop=shop_a.shop, name="售前", max_concurrent=1)
    agent = shop_a.sub("agent1", {Perm.CHAT}, group=group)
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    first, second = (Buyer.objects.create(shop=shop_a.shop, external_id=b) for b in ("b1", "b2"))
    conv.request_human(conversation=conv.conversation_open(buyer=first))
    waiting = conv.request_human(conversation=conv.conversation_open(buyer=second))
    assert waiting.state == State.QUEUED
    response = shop_a.client().patch(detail(group), {"max_concurrent": 2}, format="json")
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert (waiting.state, waiting.agent_id) == (State.ACTIVE, agent.pk)


def test_deleting_a_group_keeps_its_agents_in_no_group(shop_a):
    # SPEC B2: deleting the last group switches back to simple mode; its agents stay
    group = Group.objects.create(shop=shop_a.shop, name="售前")
    agent = shop_a.sub("agent1", {Perm.CHAT}, group=group)
    response = shop_a.client().delete(detail(group))
    assert response.status_code == 204
    assert rows(shop_a) == []
    assert AgentState.objects.get(account=agent).group_id is None
    assert shop_a.client().get(detail(group)).status_code == 404
