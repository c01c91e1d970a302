"""The service assistant's intents through the API (API.md, intent rules; SPEC B4, A4)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.permissions import Perm
from apps.conversations.models import IntentRule
from apps.routing.models import Group
from tests.support.widget import widget_client

RULES = "/api/v1/intent-rules/"


def detail(rule: IntentRule) -> str:
    return f"{RULES}{rule.pk}/"


def rows(desk) -> list[dict[str, Any]]:
    return list(IntentRule.objects.filter(shop_id=desk.shop_id).order_by("pk").values())


def test_main_account_creates_an_intent_with_its_keywords(desk):
    # SPEC B4: intents are labels from the service assistant, revealed by keywords
    response = desk.kit.client().post(
        RULES, {"name": "退款", "keywords": ["退款", " 退货 ", "退款", "refund"]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["keywords"]) == ("退款", ["refund", "退款", "退货"])
    assert rows(desk)[0]["keywords"] == ["refund", "退款", "退货"]


def test_every_agent_reads_the_intents(desk, shop_b):
    IntentRule.objects.create(shop_id=desk.shop_id, name="退款", keywords=["退款"])
    IntentRule.objects.create(shop=shop_b.shop, name="theirs", keywords=["x"])
    client = desk.kit.client(desk.kit.sub("agent1", {Perm.CHAT}))
    response = client.get(RULES)
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["退款"]
    rule = IntentRule.objects.get(shop_id=desk.shop_id)
    assert client.get(detail(rule)).json()["keywords"] == ["退款"]


def test_changing_and_deleting_an_intent(desk):
    rule = IntentRule.objects.create(shop_id=desk.shop_id, name="退款", keywords=["退款"])
    client = desk.kit.client()
    response = client.patch(detail(rule), {"keywords": ["退钱"]}, format="json")
    assert response.status_code == 200 and response.json()["keywords"] == ["退钱"]
    assert client.patch(detail(rule), {"name": "退货退款"}, format="json").status_code == 200
    rule.refresh_from_db()
    assert (rule.name, rule.keywords) == ("退货退款", ["退钱"])
    assert client.delete(detail(rule)).status_code == 204
    assert rows(desk) == []
    assert client.get(detail(rule)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keywords": ["退款"]}, "name"),
        ({"name": "退款"}, "keywords"),
        ({"name": "退款", "keywords": []}, "keywords"),
        ({"name": "退款", "keywords": ["  ", ""]}, "keywords"),
        ({"name": "退款", "keywords": "退款"}, "keywords"),
        ({"name": "退款", "keywords": ["k" * 65]}, "keywords"),
        ({"name": "n" * 65, "keywords": ["退款"]}, "name"),
        ({"name": "已有", "keywords": ["x"]}, "name"),
    ],
)
def test_bad_intent_is_refused_and_nothing_is_stored(desk, body, field):
    # API.md General: 400 with the field; SPEC N: nothing stored
    IntentRule.objects.create(shop_id=desk.shop_id, name="已有", keywords=["x"])
    before = rows(desk)
    response = desk.kit.client().post(RULES, body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert rows(desk) == before


def test_clearing_an_intents_keywords_is_refused(desk):
    rule = IntentRule.objects.create(shop_id=desk.shop_id, name="退款", keywords=["退款"])
    before = rows(desk)
    response = desk.kit.client().patch(detail(rule), {"keywords": []}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["keywords"]
    assert rows(desk) == before


@pytest.mark.parametrize("perms", [{Perm.CHAT}, {Perm.MANAGE_SETTINGS, Perm.VIEW_ALL_HISTORY}])
def test_sub_account_without_manage_routing_cannot_change_intents(desk, perms):
    # SPEC A4: intents feed routing scopes: manage_routing
    rule = IntentRule.objects.create(shop_id=desk.shop_id, name="退款", keywords=["退款"])
    client = desk.kit.client(desk.kit.sub("someone", perms))
    before = rows(desk)
    assert client.post(RULES, {"name": "新", "keywords": ["x"]}, format="json").status_code == 403
    assert client.patch(detail(rule), {"keywords": ["y"]}, format="json").status_code == 403
    assert client.delete(detail(rule)).status_code == 403
    assert rows(desk) == before


def test_sub_account_with_manage_routing_manages_intents(desk):
    client = desk.kit.client(desk.kit.sub("router", {Perm.MANAGE_ROUTING}))
    response = client.post(RULES, {"name": "物流", "keywords": ["快递"]}, format="json")
    assert response.status_code == 201
    assert client.delete(f"{RULES}{response.json()['id']}/").status_code == 204


def test_intents_need_staff_credentials(desk, anon):
    # API.md General: 401 unauthenticated; a buyer token is not accepted
    rule = IntentRule.objects.create(shop_id=desk.shop_id, name="退款", keywords=["退款"])
    buyer = widget_client(desk.kit.shop)
    before = rows(desk)
    for client in (anon, buyer):
        assert client.get(RULES).status_code == 401
        assert (
            client.post(RULES, {"name": "n", "keywords": ["k"]}, format="json").status_code == 401
        )
        assert client.delete(detail(rule)).status_code == 401
    assert rows(desk) == before


def buyer_says_then_asks(desk, words: str):
    """A new widget buyer writes ``words`` to the assistant, then asks for a human."""
    buyer = widget_client(desk.kit.shop)
    buyer.post("/api/v1/widget/conversation/", {"human": False}, format="json")
    buyer.post("/api/v1/widget/conversation/messages/", {"body": words}, format="json")
    return buyer.post("/api/v1/widget/conversation/", {"human": True}, format="json")


def test_buyer_who_mentions_a_keyword_is_routed_to_the_group_of_that_intent(desk):
    # SPEC B4: the assistant labels the intent from the buyer's words; the intent scope routes it
    desk.kit.client().post(RULES, {"name": "refund", "keywords": ["退款"]}, format="json")
    refunds = desk.group("售后", scope_intents=["refund"])
    desk.group("售前")
    desk.agent("presale")
    specialist = desk.agent("aftersale", group=refunds)
    response = buyer_says_then_asks(desk, "我要退款")
    assert response.status_code == 200
    assert (response.json()["intent"], response.json()["agent"]) == ("refund", specialist.pk)
    assert Group.objects.filter(shop_id=desk.shop_id).count() == 2


def test_renaming_an_intent_renames_it_in_the_groups_scopes(desk, shop_b):
    # SPEC B4: a group scopes by the intent's name; a rename keeps the group routing it
    created = desk.kit.client().post(RULES, {"name": "refund", "keywords": ["退款"]}, format="json")
    refunds = desk.group("售后", scope_intents=["refund", "return"])
    theirs = Group.objects.create(shop=shop_b.shop, name="售后", scope_intents=["refund"])
    renamed = desk.kit.client().patch(
        f"{RULES}{created.json()['id']}/", {"name": "退款"}, format="json"
    )
    assert renamed.status_code == 200
    refunds.refresh_from_db()
    theirs.refresh_from_db()
    assert refunds.scope_intents == ["return", "退款"]
    assert theirs.scope_intents == ["refund"]  # another shop's group is not its business
    # and a buyer who says it is still routed to that group's agent
    desk.group("售前")
    desk.agent("presale")
    specialist = desk.agent("aftersale", group=refunds)
    response = buyer_says_then_asks(desk, "我要退款")
    assert (response.json()["intent"], response.json()["agent"]) == ("退款", specialist.pk)
