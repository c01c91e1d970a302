"""Issue 10's server side, through the REST API: staff messages to and from the main account
(seed 001, ``/api/v1/staff-messages/``), the widget's question menu (seed 002,
``/api/v1/widget/intents/``, ``intent`` on the conversation), the links of the order and
after-sales cards and of the buyer panel (``order_url_template``, ``after_sale_url_template``)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from apps.accounts.permissions import Perm
from apps.conversations import events as catalogue
from apps.conversations.models import IntentRule
from apps.events.models import Event
from apps.shops.models import ShopSettings, StaffMessage
from conftest import ShopKit
from tests.api.panel_support import push_after_sale, push_buyer, push_order, served
from tests.support.widget import widget_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/staff-messages/"


# ---------------------------------------------------------------------------------------------
# Seed 001: staff messages, never routed


def test_an_agent_writes_to_the_main_account_who_gets_it_live(shop_a: ShopKit) -> None:
    agent = shop_a.sub("agent", {Perm.CHAT})
    response = shop_a.client(agent).post(
        URL, {"to": shop_a.main.pk, "body": " 今天能早点下班吗? "}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sender"], body["recipient"], body["body"]) == (
        agent.pk,
        shop_a.main.pk,
        "今天能早点下班吗?",
    )
    # live on the main account's agent stream (and the sender's other sessions), never routed
    events = Event.objects.filter(type="staff_message.created")
    assert {e.recipient_id for e in events} == {shop_a.main.pk, agent.pk}
    for event in events:
        Draft202012Validator(catalogue.schema("staff_message.created")).validate(event.payload)
    assert not Event.objects.filter(type__startswith="conversation.").exists()
    # both list it, newest first
    for who in (agent, shop_a.main):
        listed = shop_a.client(who).get(URL).json()
        assert [m["id"] for m in listed["results"]] == [body["id"]]


def test_the_main_account_writes_to_any_staff_but_agents_only_to_the_main_account(
    shop_a: ShopKit,
) -> None:
    a, b = shop_a.sub("a", {Perm.CHAT}), shop_a.sub("b", {Perm.CHAT})
    main = shop_a.client()
    assert main.post(URL, {"to": a.pk, "body": "hi"}, format="json").status_code == 201
    response = shop_a.client(a).post(URL, {"to": b.pk, "body": "psst"}, format="json")
    assert response.status_code == 400
    assert "to" in response.json()["errors"]
    response = shop_a.client(a).post(URL, {"to": a.pk, "body": "me"}, format="json")
    assert response.status_code == 400
    response = shop_a.client(a).post(URL, {"to": shop_a.main.pk, "body": "  "}, format="json")
    assert response.status_code == 400
    assert StaffMessage.objects.count() == 1
    # b sees none of a's messages with the main account
    assert shop_a.client(b).get(URL).json()["count"] == 0


def test_another_shops_accounts_are_not_found_and_nothing_is_stored(
    shop_a: ShopKit, shop_b: ShopKit
) -> None:
    agent = shop_a.sub("agent", {Perm.CHAT})
    for sender, to in ((shop_a.client(agent), shop_b.main.pk), (shop_a.client(), shop_b.main.pk)):
        response = sender.post(URL, {"to": to, "body": "hello"}, format="json")
        assert response.status_code == 404
    assert not StaffMessage.objects.exists()
    assert not Event.objects.filter(type="staff_message.created").exists()
    # a thread with another shop's account is not found either
    assert shop_a.client().get(URL, {"with_account": shop_b.main.pk}).status_code == 404
    # and another shop's messages are never listed
    shop_b.client(shop_b.sub("x", {Perm.CHAT})).post(
        URL, {"to": shop_b.main.pk, "body": "theirs"}, format="json"
    )
    assert shop_a.client().get(URL).json()["count"] == 0


def test_the_list_is_newest_first_and_filters_by_colleague(shop_a: ShopKit) -> None:
    a, b = shop_a.sub("a", {Perm.CHAT}), shop_a.sub("b", {Perm.CHAT})
    ids = [
        shop_a.client(a).post(URL, {"to": shop_a.main.pk, "body": "1"}, format="json").json()["id"],
        shop_a.client(b).post(URL, {"to": shop_a.main.pk, "body": "2"}, format="json").json()["id"],
        shop_a.client().post(URL, {"to": a.pk, "body": "3"}, format="json").json()["id"],
    ]
    listed = shop_a.client().get(URL).json()
    assert [m["id"] for m in listed["results"]] == ids[::-1]
    with_a = shop_a.client().get(URL, {"with_account": a.pk}).json()
    assert [m["body"] for m in with_a["results"]] == ["3", "1"]
    assert shop_a.client(a).get(URL).json()["count"] == 2


def test_staff_messages_need_an_account(anon) -> None:
    assert anon.get(URL).status_code == 401


# ---------------------------------------------------------------------------------------------
# Seed 002: the question menu


def test_the_widget_lists_the_shops_intents_and_routes_the_chosen_one(
    shop_a: ShopKit, shop_b: ShopKit
) -> None:
    IntentRule.objects.create(shop=shop_a.shop, name="退换货", keywords=["退"])
    IntentRule.objects.create(shop=shop_a.shop, name="物流", keywords=["快递"])
    IntentRule.objects.create(shop=shop_b.shop, name="theirs", keywords=["x"])
    client = widget_client(shop_a.shop, "b-1")
    body = client.get("/api/v1/widget/intents/").json()
    assert body == {
        "enabled": True,
        "queue_mode": "shop",
        "results": [{"name": "退换货"}, {"name": "物流"}],
    }
    appearance = client.get(f"/api/v1/widget/appearance/{shop_a.shop.slug}/").json()
    assert appearance["intent_menu_enabled"] is True
    # the chosen question is the conversation's intent
    response = client.post(
        "/api/v1/widget/conversation/", {"human": True, "intent": "物流"}, format="json"
    )
    assert response.status_code == 200 and response.json()["intent"] == "物流"
    # switched off: no menu
    ShopSettings.objects.filter(shop=shop_a.shop).update(intent_menu_enabled=False)
    assert client.get("/api/v1/widget/intents/").json()["results"] == []


def test_the_intents_need_a_buyer_token(anon) -> None:
    assert anon.get("/api/v1/widget/intents/").status_code in (401, 403)


# ---------------------------------------------------------------------------------------------
# Links of the order and after-sales cards


def test_link_templates_are_checked_and_a_bad_one_changes_nothing(shop_a: ShopKit) -> None:
    client = shop_a.client()
    for bad in (
        "ftp://shop.example/{order}",
        "https://shop.example/{id}",
        "https://shop.example/{order}/{after_sale}",
        "shop.example/{order}",
    ):
        response = client.patch("/api/v1/settings/", {"order_url_template": bad}, format="json")
        assert response.status_code == 400, bad
        assert "order_url_template" in response.json()["errors"]
    response = client.patch(
        "/api/v1/settings/",
        {"after_sale_url_template": "https://x.example/o/{order}"},
        format="json",
    )
    assert response.status_code == 400
    assert ShopSettings.objects.get(shop=shop_a.shop).order_url_template == ""
    response = client.patch(
        "/api/v1/settings/",
        {
            "order_url_template": "https://shop.example/orders/{order}",
            "after_sale_url_template": "https://shop.example/refunds/{after_sale}?tab=1",
            "intent_menu_enabled": False,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["order_url_template"] == "https://shop.example/orders/{order}"
    assert response.json()["intent_menu_enabled"] is False


def test_cards_and_the_panel_link_to_the_shops_pages(shop_a: ShopKit) -> None:
    push_buyer(shop_a, "b-1")
    push_order(shop_a, "o 1", "b-1")
    push_after_sale(shop_a, "as-1", "o 1", "b-1")
    desk = served(shop_a, "b-1", perms={Perm.HANDLE_ORDERS, Perm.HANDLE_AFTER_SALES})
    # without templates: no links
    card = desk.agent_client.post(
        desk.url("cards/"), {"kind": "order_card", "ref": "o 1"}, format="json"
    ).json()["card"]
    assert card["url"] is None
    shop_a.client().patch(
        "/api/v1/settings/",
        {
            "order_url_template": "https://shop.example/orders/{order}",
            "after_sale_url_template": "https://shop.example/refunds/{after_sale}",
        },
        format="json",
    )
    card = desk.agent_client.post(
        desk.url("cards/"), {"kind": "order_card", "ref": "o 1"}, format="json"
    ).json()["card"]
    assert card["url"] == "https://shop.example/orders/o%201"  # the id quoted
    card = desk.agent_client.post(
        desk.url("cards/"), {"kind": "after_sale_card", "ref": "as-1"}, format="json"
    ).json()["card"]
    assert card["url"] == "https://shop.example/refunds/as-1"
    panel = desk.agent_client.get(desk.url("buyer/")).json()
    assert [o["url"] for o in panel["recent_orders"]] == ["https://shop.example/orders/o%201"]
    assert [a["url"] for a in panel["after_sales"]] == ["https://shop.example/refunds/as-1"]
