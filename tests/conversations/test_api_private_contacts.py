"""Private contacts through the API (API.md, private contacts; SPEC B8, A4)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from apps.accounts.permissions import Perm
from apps.conversations.models import PrivateContact, State
from apps.shopdata.models import Buyer
from tests.support.widget import widget_client

CONTACTS = "/api/v1/private-contacts/"


def contacts(desk) -> list[str]:
    return list(
        PrivateContact.objects.filter(shop_id=desk.shop_id)
        .order_by("pk")
        .values_list("buyer__external_id", flat=True)
    )


def test_main_account_adds_a_private_buyer_and_sees_it_listed(desk):
    # SPEC B8: the main account keeps a list of private buyers, by external id
    desk.buyer("vip-1", name="老客户")
    client = desk.kit.client()
    response = client.post(CONTACTS, {"buyer": " vip-1 "}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["buyer"] == "vip-1" and response.json()["name"] == "老客户"
    listed = client.get(CONTACTS)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 1
    assert [(c["buyer"], c["name"]) for c in body["results"]] == [("vip-1", "老客户")]
    assert contacts(desk) == ["vip-1"]


def test_a_buyer_not_pushed_yet_can_be_made_private(desk):
    # SPEC B8, H2: the list may name a buyer before the shop's systems push it
    response = desk.kit.client().post(CONTACTS, {"buyer": "vip-2"}, format="json")
    assert response.status_code == 201
    assert Buyer.objects.filter(shop_id=desk.shop_id, external_id="vip-2").exists()
    assert contacts(desk) == ["vip-2"]


def test_adding_a_private_buyer_twice_keeps_one_entry(desk):
    client = desk.kit.client()
    client.post(CONTACTS, {"buyer": "vip-1"}, format="json")
    assert client.post(CONTACTS, {"buyer": "vip-1"}, format="json").status_code == 201
    assert contacts(desk) == ["vip-1"]


def test_a_private_buyer_added_through_the_api_goes_to_the_offline_main_account(desk):
    # SPEC B8: whatever the main account's status; never routed to anyone else
    agent = desk.agent("agent1")
    desk.kit.client().post(CONTACTS, {"buyer": "vip-1"}, format="json")
    buyer = widget_client(desk.kit.shop, "vip-1")
    response = buyer.post("/api/v1/widget/conversation/", {"human": True}, format="json")
    assert response.status_code == 200
    assert response.json()["agent"] == desk.kit.main.pk != agent.pk


def test_removing_a_private_buyer(desk):
    # API.md: DELETE …/{buyer_id}/ by external id; the buyer itself stays
    client = desk.kit.client()
    for external_id in ("vip-1", "王五"):
        client.post(CONTACTS, {"buyer": external_id}, format="json")
    response = client.delete(f"{CONTACTS}{quote('王五')}/")
    assert response.status_code == 204
    assert contacts(desk) == ["vip-1"]
    assert Buyer.objects.filter(shop_id=desk.shop_id, external_id="王五").exists()
    assert client.delete(f"{CONTACTS}{quote('王五')}/").status_code == 404


def test_removing_an_unknown_private_buyer_is_404(desk, shop_b):
    # API.md General: 404 unknown or another shop's
    PrivateContact.objects.create(
        shop=shop_b.shop, buyer=Buyer.objects.create(shop=shop_b.shop, external_id="vip-1")
    )
    assert desk.kit.client().delete(f"{CONTACTS}vip-1/").status_code == 404
    assert PrivateContact.objects.filter(shop=shop_b.shop).count() == 1
    assert desk.kit.client().delete(f"{CONTACTS}vip%00/").status_code == 404  # never 500


@pytest.mark.parametrize(
    ("body", "field"), [({}, "buyer"), ({"buyer": ""}, "buyer"), ({"buyer": "b" * 65}, "buyer")]
)
def test_bad_private_contact_is_refused_and_nothing_is_stored(desk, body, field):
    response = desk.kit.client().post(CONTACTS, body, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert contacts(desk) == [] and Buyer.objects.count() == 0


@pytest.mark.parametrize("perms", [set(), {Perm.CHAT, Perm.MANAGE_SETTINGS, Perm.VIEW_ALL_HISTORY}])
def test_sub_account_without_manage_routing_cannot_see_or_change_private_contacts(desk, perms):
    # SPEC A4, B8: private contacts are routing settings (manage_routing)
    desk.kit.client().post(CONTACTS, {"buyer": "vip-1"}, format="json")
    client = desk.kit.client(desk.kit.sub("someone", perms))
    assert client.get(CONTACTS).status_code == 403
    assert client.post(CONTACTS, {"buyer": "vip-2"}, format="json").status_code == 403
    assert client.delete(f"{CONTACTS}vip-1/").status_code == 403
    assert contacts(desk) == ["vip-1"]
    assert not Buyer.objects.filter(external_id="vip-2").exists()


def test_sub_account_with_manage_routing_keeps_the_list(desk):
    client = desk.kit.client(desk.kit.sub("router", {Perm.MANAGE_ROUTING}))
    assert client.post(CONTACTS, {"buyer": "vip-1"}, format="json").status_code == 201
    assert client.get(CONTACTS).json()["count"] == 1
    assert client.delete(f"{CONTACTS}vip-1/").status_code == 204


def test_private_contacts_need_staff_credentials(desk, anon):
    # API.md General: 401 unauthenticated; a buyer token is not accepted
    desk.kit.client().post(CONTACTS, {"buyer": "vip-1"}, format="json")
    buyer = widget_client(desk.kit.shop, "vip-1")
    for client in (anon, buyer):
        assert client.get(CONTACTS).status_code == 401
        assert client.post(CONTACTS, {"buyer": "vip-2"}, format="json").status_code == 401
        assert client.delete(f"{CONTACTS}vip-1/").status_code == 401
    assert contacts(desk) == ["vip-1"]


def test_private_buyer_waits_for_the_offline_main_account_and_nobody_else_gets_it(desk):
    # SPEC B8: when the main account is offline they wait as its offline messages
    desk.agent("agent1")
    desk.kit.client().post(CONTACTS, {"buyer": "vip-1"}, format="json")
    conversation = desk.ask("vip-1")
    assert (conversation.state, conversation.agent_id) == (State.ACTIVE, desk.kit.main.pk)
