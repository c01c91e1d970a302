"""The buyer widget through the API (API.md, buyer widget; SPEC F1-F4, H3, B7, B11, C5, D4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.conversations.models import Conversation, Message, Rating
from apps.shopdata.models import Buyer, Order, Product
from tests.support.widget import SESSION, buyer_client, session_body, widget_client

CONVERSATION = "/api/v1/widget/conversation/"
MESSAGES = "/api/v1/widget/conversation/messages/"
LEAVE = "/api/v1/widget/conversation/leave/"
RATING = "/api/v1/widget/conversation/rating/"
AGENTS = "/api/v1/widget/agents/"


def session(body: dict[str, Any]) -> Any:
    return APIClient().post(SESSION, body, format="json")


def stored(desk) -> dict[str, Any]:
    """What a widget request could store: buyers, conversations, messages, ratings."""
    return {
        "buyers": list(Buyer.objects.filter(shop_id=desk.shop_id).order_by("pk").values()),
        "conversations": list(
            Conversation.objects.filter(shop_id=desk.shop_id).order_by("pk").values()
        ),
        "messages": Message.objects.filter(shop_id=desk.shop_id).count(),
        "ratings": list(Rating.objects.filter(shop_id=desk.shop_id).values()),
    }


def open_conversation(desk, buyer_id: str = "b-1", human: bool = True) -> tuple[APIClient, dict]:
    client = widget_client(desk.kit.shop, buyer_id)
    response = client.post(CONVERSATION, {"human": human}, format="json")
    assert response.status_code == 200, response.content
    return client, response.json()


# Session (H3, F1)


def test_signed_buyer_opens_a_session_and_is_remembered(desk):
    # SPEC H3: the shop proves who the buyer is with an HMAC of the buyer id
    response = session(session_body(desk.kit.shop, "b-1", name="张三"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["buyer"] == {"external_id": "b-1", "name": "张三"}
    assert body["shop"]["slug"] == desk.kit.shop.slug and body["token"]
    assert Buyer.objects.get(shop_id=desk.shop_id, external_id="b-1").name == "张三"
    again = session(session_body(desk.kit.shop, "b-1", name="别名"))
    assert again.status_code == 200 and again.json()["buyer"]["name"] == "张三"
    assert Buyer.objects.filter(shop_id=desk.shop_id).count() == 1


def test_a_chinese_buyer_id_is_signed_as_utf8(desk):
    # API.md: HMAC-SHA256 of the UTF-8 buyer_id keyed with the UTF-8 widget_secret
    response = session(session_body(desk.kit.shop, "会员-王五"))
    assert response.status_code == 200 and response.json()["buyer"]["external_id"] == "会员-王五"


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "00" * 32},
        {"signature": ""},
        {"signature": None},
        {"buyer_id": "b-2"},  # a signature made for another buyer
    ],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(desk, change):
    # SPEC H3: the signature is required unless the shop allows anonymous buyers
    body = {
        k: v for k, v in {**session_body(desk.kit.shop, "b-1"), **change}.items() if v is not None
    }
    before = stored(desk)
    response = session(body)
    assert response.status_code == 400 and list(response.json()["errors"]) == ["signature"]
    assert stored(desk) == before


def test_another_shops_secret_does_not_sign_for_this_shop(desk, shop_b):
    # SPEC A1, H3
    body = {**session_body(shop_b.shop, "b-1"), "shop": desk.kit.shop.slug}
    response = session(body)
    assert response.status_code == 400 and list(response.json()["errors"]) == ["signature"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shop": "no-such-shop"}, "shop"),
        ({"shop": "not a slug!"}, "shop"),
        ({"entrance": "cart"}, "entrance"),
        ({"entrance": None}, "entrance"),
        ({"product": "no-such-product"}, "product"),
        ({"order": "no-such-order"}, "order"),
        ({"name": "n" * 101}, "name"),
    ],
)
def test_a_bad_session_request_is_refused_and_nothing_is_stored(desk, change, field):
    body = {
        k: v for k, v in {**session_body(desk.kit.shop, "b-1"), **change}.items() if v is not None
    }
    before = stored(desk)
    response = session(body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert stored(desk) == before


def test_an_order_of_another_buyer_is_not_a_context(desk):
    # SPEC A1-like: a buyer cannot open the widget on someone else's order
    owner = desk.buyer("owner")
    Order.objects.create(
        shop_id=desk.shop_id,
        external_id="o-1",
        buyer=owner,
        status="paid",
        amount=10,
        created_at=timezone.now(),
    )
    before = stored(desk)
    response = session(session_body(desk.kit.shop, "b-1", entrance="order", order="o-1"))
    assert response.status_code == 400 and list(response.json()["errors"]) == ["order"]
    assert stored(desk) == before


def test_the_page_the_buyer_came_from_is_on_the_conversation(desk):
    # SPEC F1, E3: the entrance with its product or order
    buyer = desk.buyer("b-1")
    Product.objects.create(shop_id=desk.shop_id, external_id="sku-1", name="鞋")
    Order.objects.create(
        shop_id=desk.shop_id,
        external_id="o-1",
        buyer=buyer,
        status="paid",
        amount=10,
        created_at=timezone.now(),
    )
    client = widget_client(desk.kit.shop, "b-1", entrance="order", product="sku-1", order="o-1")
    body = client.post(CONVERSATION, {"human": False}, format="json").json()
    assert (body["entrance"], body["product"], body["order"]) == ("order", "sku-1", "o-1")


def test_a_disabled_system_answers_a_clear_notice(desk):
    # SPEC F1: a disabled system answers with a clear notice; nothing is stored
    desk.settings(system_enabled=False)
    before = stored(desk)
    response = session(session_body(desk.kit.shop, "b-1"))
    assert response.status_code == 403
    assert "not available" in response.json()["detail"]
    assert stored(desk) == before


def test_a_disabled_entrance_answers_a_clear_notice(desk):
    # SPEC F1: only enabled entrances open the widget
    desk.settings(entrances=["member"])
    before = stored(desk)
    response = session(session_body(desk.kit.shop, "b-1", entrance="product"))
    assert response.status_code == 403
    assert "not offered on this page" in response.json()["detail"]
    assert stored(desk) == before
    assert session(session_body(desk.kit.shop, "b-1", entrance="member")).status_code == 200


def test_anonymous_visitors_only_where_the_shop_allows_them(desk):
    # SPEC H3: anonymous visitors only where the shop allows them
    body = {"shop": desk.kit.shop.slug, "entrance": "product"}
    refused = session(body)
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["signature"]
    assert Buyer.objects.count() == 0
    desk.settings(allow_anonymous_buyers=True)
    first, second = session(body), session(body)
    assert first.status_code == second.status_code == 200
    visitors = {first.json()["buyer"]["external_id"], second.json()["buyer"]["external_id"]}
    assert len(visitors) == 2 and all(v.startswith("anon:") for v in visitors)


def test_a_too_long_anonymous_visitor_id_is_refused(desk):
    # API.md General: never 500 for input (the id gets the `anon:` prefix)
    desk.settings(allow_anonymous_buyers=True)
    body = {"shop": desk.kit.shop.slug, "entrance": "product"}
    before = stored(desk)
    response = session({**body, "buyer_id": "x" * 60})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["buyer_id"]
    assert stored(desk) == before
    assert session({**body, "buyer_id": "x" * 59}).status_code == 200


def test_an_unsigned_buyer_id_is_never_mapped_onto_the_real_buyer(desk):
    # SPEC H3, docs/routing.md: an anonymous visitor naming a real buyer's id gets its own record
    desk.agent("a1")
    real_client, real = open_conversation(desk, "b-1")
    real_client.post(MESSAGES, {"body": "我的地址是……"}, format="json")
    desk.settings(allow_anonymous_buyers=True)
    response = session({"shop": desk.kit.shop.slug, "buyer_id": "b-1", "entrance": "product"})
    assert response.status_code == 200
    assert response.json()["buyer"]["external_id"] == "anon:b-1"
    impostor = buyer_client(response.json()["token"])
    assert impostor.get(CONVERSATION).status_code == 404
    assert impostor.get(MESSAGES).status_code == 404
    # and a signed id still reaches the real buyer, anonymous visitors allowed or not
    signed = widget_client(desk.kit.shop, "b-1")
    assert signed.get(CONVERSATION).json()["id"] == real["id"]


# Credentials


def test_widget_endpoints_need_a_buyer_token(desk):
    # API.md General: `Authorization: Buyer <token>`; a staff token or a forged one is refused
    staff = desk.kit.client()
    forged = buyer_client("not-a-token")
    anon = APIClient()
    before = stored(desk)
    for client in (staff, forged, anon):
        assert client.get(CONVERSATION).status_code == 401
        assert client.post(CONVERSATION, {"human": True}, format="json").status_code == 401
        assert client.get(MESSAGES).status_code == 401
        assert client.post(MESSAGES, {"body": "hi"}, format="json").status_code == 401
        assert client.post(LEAVE).status_code == 401
        assert client.post(RATING, {"score": 5}, format="json").status_code == 401
        assert client.get(AGENTS).status_code == 401
    assert stored(desk) == before


# Agents to choose (B7)


def test_buyers_see_the_agents_they_may_choose_only_when_the_shop_lets_them(desk, shop_b):
    # SPEC B7: online and paused agents; offline ones, other shops' and non-chatting accounts not
    online = desk.agent("online", display_name="小王")
    paused = desk.agent("paused", status="paused")
    desk.agent("offline", status="offline")
    clerk = desk.kit.sub("clerk", {Perm.HANDLE_ORDERS})
    desk.status(clerk, "online")
    theirs = shop_b.sub("theirs", {Perm.CHAT})
    desk.status(theirs, "online")
    client = widget_client(desk.kit.shop)
    assert client.get(AGENTS).json()["results"] == []
    desk.settings(buyer_chooses_agent=True)
    response = client.get(AGENTS)
    assert response.status_code == 200
    listed = {a["id"]: (a["name"], a["status"]) for a in response.json()["results"]}
    assert listed == {online.pk: ("小王", "online"), paused.pk: (paused.label, "paused")}


def test_buyer_gets_the_agent_it_chose(desk):
    # SPEC B7: a chosen agent who is online or paused and below max gets the buyer
    desk.settings(buyer_chooses_agent=True)
    desk.agent("busy-free", weight=100)
    chosen = desk.agent("chosen", status="paused")
    client = widget_client(desk.kit.shop)
    response = client.post(CONVERSATION, {"human": True, "agent": chosen.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["agent"] == chosen.pk


def test_buyer_whose_chosen_agent_is_away_is_told_and_routed_normally(desk):
    # SPEC B7: otherwise the buyer is told and routed normally
    desk.settings(buyer_chooses_agent=True)
    other = desk.agent("other")
    away = desk.agent("away", status="offline")
    client = widget_client(desk.kit.shop)
    response = client.post(CONVERSATION, {"human": True, "agent": away.pk}, format="json")
    assert response.json()["agent"] == other.pk
    messages = client.get(MESSAGES).json()["results"]
    assert [m["kind"] for m in messages if m["sender"] == "system"] == ["notice"]


@pytest.mark.parametrize("agent", ["someone", "other-shop", 999999])
def test_choosing_an_unknown_agent_is_refused_and_nothing_is_stored(desk, shop_b, agent):
    desk.settings(buyer_chooses_agent=True)
    desk.agent("a1")
    if agent == "other-shop":
        agent = shop_b.sub("theirs", {Perm.CHAT}).pk
    client = widget_client(desk.kit.shop)
    before = stored(desk)
    response = client.post(CONVERSATION, {"human": True, "agent": agent}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["agent"]
    assert stored(desk) == before


# The conversation (F2)


def test_the_assistant_greets_and_a_second_open_returns_the_same_conversation(desk):
    # SPEC F2: the service assistant greets; one open conversation per buyer
    client = widget_client(desk.kit.shop)
    assert client.get(CONVERSATION).status_code == 404
    first = client.post(CONVERSATION, {"human": False}, format="json")
    assert first.status_code == 200
    assert (first.json()["state"], first.json()["agent"]) == ("assistant", None)
    greeting = client.get(MESSAGES).json()["results"]
    assert [(m["seq"], m["sender"]) for m in greeting] == [(1, "assistant")]
    again = client.post(CONVERSATION, {}, format="json")
    assert again.json()["id"] == first.json()["id"]
    assert client.get(CONVERSATION).json()["id"] == first.json()["id"]
    assert Conversation.objects.filter(shop_id=desk.shop_id).count() == 1


def test_asking_for_a_human_routes_before_the_answer(desk):
    # API.md General: asking for a human runs the routing decision before the answer
    agent = desk.agent("a1")
    client, body = open_conversation(desk)
    assert (body["state"], body["agent"], body["queue"]) == ("active", agent.pk, None)
    assert body["human_requested_at"] is not None
    assert client.get(CONVERSATION).json()["agent"] == agent.pk


def test_with_nobody_online_the_buyer_leaves_an_offline_message_for_the_main_account(desk):
    # SPEC B11: `main_account` (default) assigns it to the main account as an offline message
    _client, body = open_conversation(desk)
    assert (body["state"], body["agent"], body["from_offline_message"]) == (
        "active",
        desk.kit.main.pk,
        True,
    )


def test_a_waiting_buyer_sees_its_position_and_estimate_and_refreshes_them(desk):
    # SPEC C5, F2: position and estimate, refreshed when asked again
    desk.settings(default_max_concurrent=1)
    agent = desk.agent("a1")
    open_conversation(desk, "b-0")
    first, _ = open_conversation(desk, "b-1")
    second, body = open_conversation(desk, "b-2")
    assert body["state"] == "queued"
    assert body["queue"] == {"position": 2, "eta_seconds": 1200, "hidden": False}
    desk.close(Conversation.objects.get(buyer__external_id="b-0"), agent)
    assert first.get(CONVERSATION).json()["agent"] == agent.pk
    assert second.get(CONVERSATION).json()["queue"] == {
        "position": 1,
        "eta_seconds": 600,
        "hidden": False,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [({"human": "maybe"}, "human"), ({"intent": "i" * 65}, "intent"), ({"agent": "x"}, "agent")],
)
def test_a_bad_conversation_request_is_refused_and_nothing_is_stored(desk, body, field):
    client = widget_client(desk.kit.shop)
    before = stored(desk)
    response = client.post(CONVERSATION, body, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert stored(desk) == before


def test_after_the_end_the_buyer_sees_its_latest_conversation(desk):
    # API.md: the open conversation, else the latest one
    agent = desk.agent("a1")
    client, body = open_conversation(desk)
    desk.close(Conversation.objects.get(pk=body["id"]), agent)
    latest = client.get(CONVERSATION).json()
    assert (latest["id"], latest["state"], latest["close_reason"]) == (
        body["id"],
        "closed",
        "agent",
    )


# Messages (F3)


def test_buyer_and_agent_messages_arrive_in_order_without_doubles(desk):
    # SPEC F3, API.md: idempotent on client_id; after_seq resumes without loss or doubles
    agent = desk.agent("a1")
    client, body = open_conversation(desk)
    sent = client.post(MESSAGES, {"body": "在吗", "client_id": "c-1"}, format="json")
    assert sent.status_code == 201, sent.content
    assert (sent.json()["sender"], sent.json()["client_id"]) == ("buyer", "c-1")
    resent = client.post(MESSAGES, {"body": "在吗", "client_id": "c-1"}, format="json")
    assert resent.status_code == 200 and resent.json() == sent.json()
    staff = desk.kit.client(agent)
    staff.post(f"/api/v1/conversations/{body['id']}/messages/", {"body": "在的"}, format="json")
    messages = client.get(MESSAGES).json()["results"]
    # the welcome goes out in the agent's name at the assignment (SPEC D1)
    assert [m["sender"] for m in messages] == ["assistant", "agent", "buyer", "agent"]
    assert [m["seq"] for m in messages] == [1, 2, 3, 4]
    later = client.get(MESSAGES, {"after_seq": 3}).json()["results"]
    assert [m["body"] for m in later] == ["在的"]
    assert Message.objects.filter(conversation_id=body["id"], client_id="c-1").count() == 1


def test_writing_without_a_conversation_opens_one(desk):
    # F2: the buyer can write to the assistant first (the off-hours reply of SPEC D2, which
    # depends on the time of day, is tested in apps/automation)
    desk.settings(offhours_enabled=False)
    client = widget_client(desk.kit.shop)
    response = client.post(MESSAGES, {"body": "你好"}, format="json")
    assert response.status_code == 201
    assert [m["sender"] for m in client.get(MESSAGES).json()["results"]] == ["assistant", "buyer"]
    assert client.get(CONVERSATION).json()["state"] == "assistant"


def test_writing_after_the_end_opens_a_new_conversation(desk):
    agent = desk.agent("a1")
    client, body = open_conversation(desk)
    desk.close(Conversation.objects.get(pk=body["id"]), agent)
    response = client.post(MESSAGES, {"body": "还有个问题"}, format="json")
    assert response.status_code == 201
    assert response.json()["conversation"] != body["id"]
    assert Conversation.objects.filter(shop_id=desk.shop_id).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body"), ({"body": "  "}, "body"), ({"body": "x" * 5001}, "body")],
)
def test_a_bad_buyer_message_is_refused_and_nothing_is_stored(desk, body, field):
    client = widget_client(desk.kit.shop)
    before = stored(desk)
    response = client.post(MESSAGES, body, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert stored(desk) == before


def test_messages_before_any_conversation_are_404(desk):
    client = widget_client(desk.kit.shop)
    assert client.get(MESSAGES).status_code == 404
    assert client.get(MESSAGES, {"after_seq": "x"}).status_code == 404


# Leaving (C5)


def test_a_queued_buyer_who_wrote_and_leaves_becomes_an_offline_message(desk):
    # SPEC C5: never dropped; B11 `main_account` by default
    desk.settings(default_max_concurrent=1)
    desk.agent("a1")
    open_conversation(desk, "b-0")
    client, body = open_conversation(desk, "b-1")
    assert body["state"] == "queued"
    client.post(MESSAGES, {"body": "我等不及了，请回电"}, format="json")
    response = client.post(LEAVE)
    assert response.status_code == 200, response.content
    left = response.json()
    assert (left["state"], left["agent"], left["from_offline_message"]) == (
        "active",
        desk.kit.main.pk,
        True,
    )


def test_a_queued_buyer_who_wrote_goes_to_the_pool_where_the_shop_uses_one(desk):
    # SPEC C5, B11 `pool`
    desk.settings(default_max_concurrent=1, offline_handling="pool")
    desk.agent("a1")
    open_conversation(desk, "b-0")
    client, _body = open_conversation(desk, "b-1")
    client.post(MESSAGES, {"body": "请回电"}, format="json")
    assert client.post(LEAVE).json()["state"] == "pooled"


def test_a_queued_buyer_who_did_not_write_and_leaves_is_closed_as_buyer_left(desk):
    # SPEC C5: otherwise it closes as buyer_left
    desk.settings(default_max_concurrent=1)
    desk.agent("a1")
    open_conversation(desk, "b-0")
    client, _body = open_conversation(desk, "b-1")
    response = client.post(LEAVE)
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["close_reason"]) == ("closed", "buyer_left")


def test_leaving_the_assistant_ends_the_conversation(desk):
    # docs/routing.md: leaving from another state ends it as buyer_left
    client, _body = open_conversation(desk, human=False)
    response = client.post(LEAVE)
    assert (response.json()["state"], response.json()["close_reason"]) == ("closed", "buyer_left")


def test_leaving_without_an_open_conversation_is_404(desk):
    client = widget_client(desk.kit.shop)
    before = stored(desk)
    assert client.post(LEAVE).status_code == 404
    assert stored(desk) == before


# Rating (D4, F4)


def closed_by_agent(desk) -> tuple[APIClient, dict]:
    agent = desk.agent("a1")
    client, body = open_conversation(desk)
    desk.close(Conversation.objects.get(pk=body["id"]), agent)
    return client, body


def test_buyer_rates_the_conversation_once(desk):
    # SPEC D4: 1-5 with an optional comment, once per conversation
    client, body = closed_by_agent(desk)
    response = client.post(RATING, {"score": 5, "comment": "很专业"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"conversation": body["id"], "score": 5, "comment": "很专业"}
    assert client.get(CONVERSATION).json()["rating"] == {"score": 5, "comment": "很专业"}
    before = stored(desk)
    again = client.post(RATING, {"score": 1}, format="json")
    assert again.status_code == 409 and "detail" in again.json()
    assert stored(desk) == before


def test_rating_without_a_recent_closed_conversation_is_409(desk):
    # API.md: 409 if there is none within 24 h
    client = widget_client(desk.kit.shop)
    assert client.post(RATING, {"score": 4}, format="json").status_code == 409
    client, body = closed_by_agent(desk)
    Conversation.objects.filter(pk=body["id"]).update(
        closed_at=timezone.now() - timedelta(hours=25)
    )
    before = stored(desk)
    assert client.post(RATING, {"score": 4}, format="json").status_code == 409
    assert stored(desk) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "score"),
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": "good"}, "score"),
        ({"score": 5, "comment": "c" * 501}, "comment"),
    ],
)
def test_a_bad_rating_is_refused_and_nothing_is_stored(desk, body, field):
    client, _body = closed_by_agent(desk)
    before = stored(desk)
    response = client.post(RATING, body, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert stored(desk) == before


def test_a_buyer_sees_only_its_own_conversation(desk):
    # SPEC A1-like: the token names one buyer; another buyer's conversation is not reachable
    desk.agent("a1")
    _first, mine = open_conversation(desk, "b-1")
    other = widget_client(desk.kit.shop, "b-2")
    assert other.get(CONVERSATION).status_code == 404
    assert other.post(CONVERSATION, {"human": False}, format="json").json()["id"] != mine["id"]


def test_staff_endpoints_refuse_a_buyer_token(desk):
    # API.md General: a buyer token is no staff token
    desk.agent("a1")
    client, body = open_conversation(desk)
    before = stored(desk)
    assert client.get("/api/v1/conversations/").status_code == 401
    assert client.get(f"/api/v1/conversations/{body['id']}/").status_code == 401
    assert (
        client.post(
            f"/api/v1/conversations/{body['id']}/messages/", {"body": "x"}, format="json"
        ).status_code
        == 401
    )
    assert client.post(f"/api/v1/conversations/{body['id']}/close/").status_code == 401
    assert client.get("/api/v1/queue/").status_code == 401
    assert stored(desk) == before


def test_a_buyer_whose_conversation_opened_since_the_token_check_gets_that_one(desk):
    # the widget's first request skips looking for an open conversation when the token's check
    # found none (issue 8); one opened in between (another tab) is answered, not a second one
    from apps.conversations.buyers import principal_for_token
    from apps.conversations.lifecycle import conversation_open

    shop = desk.kit.shop
    response = APIClient().post(SESSION, session_body(shop, "two-tabs"), format="json")
    principal = principal_for_token(response.json()["token"])
    assert principal is not None and principal.open_conversation_id is None
    first = conversation_open(buyer=principal.buyer)  # the other tab
    again = conversation_open(buyer=principal.buyer, open_id=principal.open_conversation_id)
    assert again.pk == first.pk
    assert Conversation.objects.filter(buyer=principal.buyer).count() == 1
