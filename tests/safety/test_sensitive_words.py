"""SPEC I6: the shop's sensitive words (API.md, "Safety"): ``mask`` stars the word in what is
stored and delivered, ``block`` refuses the message with a clear 400 and stores nothing; buyers'
messages always, agents' unless the shop turns that off."""

from __future__ import annotations

import pytest

from apps.accounts.permissions import Perm
from apps.conversations.models import Conversation, Message, Sender
from apps.events.models import Event
from apps.safety.models import SensitiveWord
from apps.shops.models import ShopSettings
from tests.support.widget import widget_client

from .conftest import serve

pytestmark = pytest.mark.django_db

WORDS = "/api/v1/sensitive-words/"


def add(kit, word: str, action: str = "mask", client=None):
    response = (client or kit.client()).post(WORDS, {"word": word, "action": action}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def bodies(conversation_id: int, sender: str = Sender.BUYER) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, sender=sender)
        .order_by("seq")
        .values_list("body", flat=True)
    )


def test_the_main_account_lists_adds_changes_and_removes_words(shop_a):
    client = shop_a.client()
    made = add(shop_a, "  WeChat ")
    assert (made["word"], made["action"]) == ("WeChat", "mask")
    add(shop_a, "加微信", "block")
    listed = client.get(WORDS).json()
    assert listed["count"] == 2
    assert [w["word"] for w in listed["results"]] == ["WeChat", "加微信"]
    changed = client.patch(f"{WORDS}{made['id']}/", {"action": "block"}, format="json")
    assert changed.status_code == 200 and changed.json()["action"] == "block"
    assert client.delete(f"{WORDS}{made['id']}/").status_code == 204
    assert client.get(f"{WORDS}{made['id']}/").status_code == 404
    assert [w.word for w in SensitiveWord.objects.filter(shop=shop_a.shop)] == ["加微信"]


def test_bad_words_are_refused_and_change_nothing(shop_a):
    add(shop_a, "wechat")
    version = ShopSettings.objects.get(shop=shop_a.shop).sensitive_words_version
    client = shop_a.client()
    for body, field in (
        ({"word": "WECHAT"}, "word"),  # the same word in another case
        ({"word": "   "}, "word"),
        ({"word": "x" * 51}, "word"),
        ({"word": "ok", "action": "delete"}, "action"),
    ):
        response = client.post(WORDS, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["errors"]
    assert SensitiveWord.objects.filter(shop=shop_a.shop).count() == 1
    assert ShopSettings.objects.get(shop=shop_a.shop).sensitive_words_version == version


def test_only_the_main_account_and_manage_settings_edit_the_words(shop_a):
    agent = shop_a.sub("agent", {Perm.CHAT})
    manager = shop_a.sub("manager", {Perm.MANAGE_SETTINGS})
    assert shop_a.client(agent).get(WORDS).status_code == 403
    refused = shop_a.client(agent).post(WORDS, {"word": "x"}, format="json")
    assert refused.status_code == 403
    assert not SensitiveWord.objects.exists()
    add(shop_a, "x-word", client=shop_a.client(manager))


def test_another_shops_words_are_neither_listed_nor_reachable(shop_a, shop_b):
    theirs = add(shop_b, "their-secret-word")
    client = shop_a.client()
    assert client.get(WORDS).json()["count"] == 0
    assert client.get(f"{WORDS}{theirs['id']}/").status_code == 404
    assert client.delete(f"{WORDS}{theirs['id']}/").status_code == 404
    assert SensitiveWord.objects.filter(pk=theirs["id"]).exists()


def test_a_buyers_masked_word_is_stored_and_delivered_starred(shop_a):
    # Given a shop that masks 微信, and a buyer served by an agent
    chat = serve(shop_a)
    add(shop_a, "微信")
    # When the buyer writes it
    response = chat.buyer_writes("加我微信聊")
    # Then the answer, the stored message and both sides' events have it starred
    assert response.status_code == 201, response.content
    assert response.json()["body"] == "加我**聊"
    assert bodies(chat.id) == ["加我**聊"]
    sent = Event.objects.filter(type="message.created", payload__id=response.json()["id"])
    assert {e.payload["body"] for e in sent} == {"加我**聊"}
    assert sent.count() == 2  # the buyer and the agent
    assert [m["body"] for m in chat.staff_messages() if m["sender"] == "buyer"] == ["加我**聊"]


def test_a_blocked_word_refuses_the_buyers_message_and_stores_nothing(shop_a):
    chat = serve(shop_a)
    add(shop_a, "QQ群", "block")
    messages, events = Message.objects.count(), Event.objects.count()
    response = chat.buyer_writes("进我们的qq群吧", client_id="c-1")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"body": ["The message contains “qq群”, which this shop does not allow."]}
    }
    assert (Message.objects.count(), Event.objects.count()) == (messages, events)


def test_a_blocked_word_after_the_end_opens_no_new_conversation(shop_a):
    # the buyer writing after its conversation ended would open a new one: not for a refusal
    add(shop_a, "spam-link", "block")
    client = widget_client(shop_a.shop, "b-9")
    conversations = Conversation.objects.count()
    response = client.post(
        "/api/v1/widget/conversation/messages/", {"body": "see spam-link"}, format="json"
    )
    assert response.status_code == 400
    assert Conversation.objects.count() == conversations
    assert not Message.objects.filter(sender=Sender.BUYER).exists()


def test_agents_messages_are_screened_too_unless_the_shop_turns_it_off(shop_a):
    chat = serve(shop_a)
    add(shop_a, "taobao.com", "block")
    add(shop_a, "私聊")
    refused = chat.agent_writes("buy at TAOBAO.COM")
    assert refused.status_code == 400
    masked = chat.agent_writes("可以私聊")
    assert masked.status_code == 201 and masked.json()["body"] == "可以**"
    # the shop lets its agents write freely
    assert (
        shop_a.client()
        .patch("/api/v1/settings/", {"sensitive_words_agents": False}, format="json")
        .status_code
        == 200
    )
    assert chat.agent_writes("可以私聊").json()["body"] == "可以私聊"
    # the buyers' messages are still screened
    assert chat.buyer_writes("私聊吗").json()["body"] == "**吗"


def test_a_changed_list_applies_to_the_next_message_at_once(shop_a):
    chat = serve(shop_a)
    word = add(shop_a, "coupon")
    assert chat.buyer_writes("a coupon?").json()["body"] == "a ******?"
    shop_a.client().patch(f"{WORDS}{word['id']}/", {"action": "block"}, format="json")
    assert chat.buyer_writes("a coupon?").status_code == 400
    shop_a.client().delete(f"{WORDS}{word['id']}/")
    assert chat.buyer_writes("a coupon?").json()["body"] == "a coupon?"


def test_a_resend_answers_the_stored_message(shop_a):
    chat = serve(shop_a)
    add(shop_a, "secret")
    first = chat.buyer_writes("my secret", client_id="c-1")
    again = chat.buyer_writes("my secret", client_id="c-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert bodies(chat.id) == ["my ******"]
