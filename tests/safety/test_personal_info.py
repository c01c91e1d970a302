"""SPEC I6: phone numbers and addresses are masked for staff without ``view_buyer_info`` (the
main account holds it; a sub-account when given), in message bodies, the buyer panel and
after-sales cards; what is stored, the buyer's copy and the shop's webhooks stay intact."""

from __future__ import annotations

import pytest

from apps.accounts.permissions import Perm, perms_of
from apps.conversations.models import Message
from apps.events.models import Event
from tests.api.panel_support import push_after_sale, push_buyer, push_order

from .conftest import serve

pytestmark = pytest.mark.django_db

PHONE = "我的电话13812345678，寄到浙江省杭州市西湖区文三路123号"
MASKED = "我的电话138****5678，寄到浙江省杭州市西湖区*******"


def test_an_agent_without_the_permission_reads_the_phone_masked(shop_a):
    chat = serve(shop_a)
    sent = chat.buyer_writes(PHONE)
    # the buyer's answer and the stored message are as written
    assert sent.json()["body"] == PHONE
    assert Message.objects.get(pk=sent.json()["id"]).body == PHONE
    # the agent's list is masked; the main account's is not
    assert [m["body"] for m in chat.staff_messages() if m["sender"] == "buyer"] == [MASKED]
    main = [m["body"] for m in chat.staff_messages(shop_a.client()) if m["sender"] == "buyer"]
    assert main == [PHONE]
    # events are stored as built, once; the agent socket masks at delivery (test_sockets.py)
    stored = Event.objects.filter(type="message.created", payload__id=sent.json()["id"])
    assert {e.payload["body"] for e in stored} == {PHONE}


def test_an_agent_given_the_permission_reads_it_whole(shop_a):
    chat = serve(shop_a, perms={Perm.VIEW_BUYER_INFO})
    chat.buyer_writes(PHONE)
    assert [m["body"] for m in chat.staff_messages() if m["sender"] == "buyer"] == [PHONE]


def test_the_agents_own_answer_is_masked_for_it_too(shop_a):
    chat = serve(shop_a)
    answer = chat.agent_writes("我们会打 13812345678 联系您")
    assert answer.json()["body"] == "我们会打 138****5678 联系您"
    assert chat.buyer.get("/api/v1/widget/conversation/messages/").json()["results"][-1][
        "body"
    ] == ("我们会打 13812345678 联系您")


def test_the_buyer_panel_and_after_sales_are_masked(shop_a):
    push_buyer(shop_a, "b-1", name="王 13912345678")
    push_order(shop_a, "o-1", "b-1")
    push_after_sale(
        shop_a,
        "as-1",
        "o-1",
        "b-1",
        return_address="浙江省杭州市西湖区文三路 100 号 售后部",
        description="请联系 13912345678",
    )
    chat = serve(shop_a)
    panel = chat.agent_client.get(chat.url("buyer/")).json()
    assert panel["buyer"]["name"] == "王 139****5678"
    after_sale = panel["after_sales"][0]
    assert after_sale["return_address"] == "浙江省杭州市西湖区*** *** * ***"
    assert after_sale["description"] == "请联系 139****5678"
    whole = shop_a.client().get(chat.url("buyer/")).json()
    assert whole["after_sales"][0]["return_address"] == "浙江省杭州市西湖区文三路 100 号 售后部"
    # the after-sales card sent into the chat: masked for the agent, whole for the buyer
    sender = serve(shop_a, "b-2", perms={Perm.HANDLE_AFTER_SALES})
    push_buyer(shop_a, "b-2")
    push_order(shop_a, "o-2", "b-2")
    push_after_sale(shop_a, "as-2", "o-2", "b-2", return_address="上海市浦东新区张江路88号")
    card = sender.agent_client.post(
        sender.url("cards/"), {"kind": "after_sale_card", "ref": "as-2"}, format="json"
    )
    assert card.status_code == 201, card.content
    assert card.json()["card"]["return_address"] == "上海市浦东新区******"
    buyer_copy = sender.buyer.get("/api/v1/widget/conversation/messages/").json()["results"]
    assert buyer_copy[-1]["card"]["return_address"] == "上海市浦东新区张江路88号"


def test_the_permission_is_in_the_catalogue_and_grantable(shop_a):
    # the main account holds it; a new sub-account not unless given
    assert Perm.VIEW_BUYER_INFO.value in perms_of(shop_a.main)
    made = shop_a.client().post(
        "/api/v1/accounts/",
        {
            "name": "lead",
            "password": "a-Valid-passw0rd!",
            "permissions": ["chat", "view_buyer_info"],
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["permissions"] == ["chat", "view_buyer_info"]
    plain = shop_a.sub("plain")
    assert "view_buyer_info" not in perms_of(plain)
