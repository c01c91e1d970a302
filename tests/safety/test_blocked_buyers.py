"""SPEC I6: the shop's buyer block list (API.md, "Safety"): a blocked buyer cannot open a widget
session nor write (403, nothing stored); staff see the block in the buyer panel."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.conversations.models import Conversation, Message
from apps.safety.models import BuyerBlock
from apps.shopdata.models import Buyer
from tests.support.widget import SESSION, session_body, widget_client

from .conftest import serve

pytestmark = pytest.mark.django_db

BLOCKS = "/api/v1/blocked-buyers/"
REFUSAL = "This shop's customer service is not available to you."


def block(kit, buyer: str, reason: str = "", client=None):
    return (client or kit.client()).post(BLOCKS, {"buyer": buyer, "reason": reason}, format="json")


def test_the_main_account_blocks_lists_and_unblocks_a_buyer(shop_a):
    client = shop_a.client()
    made = block(shop_a, "b-1", "abusive")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["buyer"], body["reason"], body["created_by"]) == ("b-1", "abusive", shop_a.main.pk)
    assert body["created_by_name"] == shop_a.main.label
    again = block(shop_a, "b-1", "spam")  # blocking again: the new reason, 200
    assert again.status_code == 200 and again.json()["reason"] == "spam"
    assert client.get(BLOCKS).json()["count"] == 1
    assert client.get(f"{BLOCKS}b-1/").json()["reason"] == "spam"
    assert client.delete(f"{BLOCKS}b-1/").status_code == 204
    assert client.delete(f"{BLOCKS}b-1/").status_code == 404
    assert not BuyerBlock.objects.exists()


def test_blocking_needs_manage_settings(shop_a):
    agent = shop_a.sub("agent", {Perm.CHAT})
    assert block(shop_a, "b-1", client=shop_a.client(agent)).status_code == 403
    assert shop_a.client(agent).get(BLOCKS).status_code == 403
    assert not BuyerBlock.objects.exists()
    manager = shop_a.sub("manager", {Perm.MANAGE_SETTINGS})
    assert block(shop_a, "b-1", client=shop_a.client(manager)).status_code == 201


def test_bad_blocks_are_refused(shop_a):
    for body in ({"buyer": ""}, {"buyer": "x" * 65}, {"buyer": "b", "reason": "r" * 201}):
        assert shop_a.client().post(BLOCKS, body, format="json").status_code == 400
    assert not BuyerBlock.objects.exists()


def test_a_blocked_buyer_cannot_open_a_session(shop_a):
    # blocked before it ever came: by external id
    block(shop_a, "b-new")
    response = APIClient().post(SESSION, session_body(shop_a.shop, "b-new"), format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": REFUSAL}
    assert not Buyer.objects.filter(external_id="b-new").exists()  # nothing stored


def test_a_blocked_buyer_cannot_write_with_a_token_it_already_had(shop_a):
    chat = serve(shop_a)
    messages = Message.objects.count()
    block(shop_a, "b-1", "spam")
    response = chat.buyer_writes("still here?")
    assert response.status_code == 403
    assert response.json() == {"detail": REFUSAL}
    assert chat.buyer.post("/api/v1/widget/conversation/", {"human": True}).status_code == 403
    assert Message.objects.count() == messages
    # unblocked: it writes again
    shop_a.client().delete(f"{BLOCKS}b-1/")
    assert chat.buyer_writes("thanks").status_code == 201


def test_the_buyer_panel_shows_the_block(shop_a):
    chat = serve(shop_a)
    panel = chat.agent_client.get(chat.url("buyer/")).json()
    assert panel["blocked"] is None
    block(shop_a, "b-1", "abusive language")
    panel = chat.agent_client.get(chat.url("buyer/")).json()
    assert panel["blocked"]["reason"] == "abusive language"
    assert panel["blocked"]["created_by_name"] == shop_a.main.label


def test_another_shops_blocks_neither_list_nor_apply(shop_a, shop_b):
    block(shop_b, "b-1", "their reason")
    assert shop_a.client().get(BLOCKS).json()["count"] == 0
    assert shop_a.client().get(f"{BLOCKS}b-1/").status_code == 404
    assert shop_a.client().delete(f"{BLOCKS}b-1/").status_code == 404
    assert BuyerBlock.objects.filter(shop=shop_b.shop).count() == 1
    # the same external id in shop A is another buyer: not blocked there
    client = widget_client(shop_a.shop, "b-1")
    assert client.post("/api/v1/widget/conversation/", {"human": False}).status_code == 200
    assert Conversation.objects.filter(shop=shop_a.shop).count() == 1
