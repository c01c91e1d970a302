"""The safety page (SPEC I6, G1): sensitive words, blocked buyers and the retention period,
written through the services the API uses, with their refusals shown beside their fields."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.permissions import Perm
from apps.safety.models import BuyerBlock, SensitiveWord
from apps.shops.models import ShopSettings
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

PAGE = "/admin/safety/"


def test_the_page_adds_switches_and_removes_a_word(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    response = client.post(PAGE, {"form": "word", "word": "微信", "action": "mask"})
    assert response.status_code == 302
    word = SensitiveWord.objects.get(shop=shop_a.shop)
    assert (word.word, word.action) == ("微信", "mask")
    page = client.get(PAGE).content.decode()
    assert 'data-sensitive-word="微信"' in page
    url = reverse("web:admin-safety-word", args=[word.pk])
    assert client.post(url, {"op": "switch"}).status_code == 302
    assert SensitiveWord.objects.get(pk=word.pk).action == "block"
    assert client.post(url, {"op": "delete"}).status_code == 302
    assert not SensitiveWord.objects.exists()
    assert client.post(url, {"op": "delete"}).status_code == 404


def test_a_refused_word_is_shown_beside_its_field(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    client.post(PAGE, {"form": "word", "word": "WeChat", "action": "mask"})
    response = client.post(PAGE, {"form": "word", "word": "wechat", "action": "block"})
    assert response.status_code == 200
    assert "This word is in the list already." in response.content.decode()
    assert SensitiveWord.objects.count() == 1


def test_the_page_blocks_and_unblocks_a_buyer(shop_a: ShopKit):
    manager = signed_in(shop_a.sub("manager", {Perm.MANAGE_SETTINGS}))
    response = manager.post(PAGE, {"form": "block", "buyer": "b-7", "reason": "spam"})
    assert response.status_code == 302
    assert BuyerBlock.objects.get(shop=shop_a.shop).reason == "spam"
    assert 'data-blocked-buyer="b-7"' in manager.get(PAGE).content.decode()
    unblock = reverse("web:admin-safety-unblock")
    assert manager.post(unblock, {"buyer": "b-7"}).status_code == 302
    assert not BuyerBlock.objects.exists()
    assert manager.post(unblock, {"buyer": "b-7"}).status_code == 404


def test_the_page_saves_the_retention_and_who_the_words_apply_to(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    response = client.post(PAGE, {"form": "settings", "retention_days": "90"})
    assert response.status_code == 302
    settings = ShopSettings.objects.get(shop=shop_a.shop)
    assert (settings.retention_days, settings.sensitive_words_agents) == (90, False)
    refused = client.post(PAGE, {"form": "settings", "retention_days": "99999"})
    assert refused.status_code == 200
    assert ShopSettings.objects.get(shop=shop_a.shop).retention_days == 90


def test_an_agent_cannot_change_anything_here(shop_a: ShopKit):
    agent = signed_in(shop_a.sub("agent", {Perm.CHAT}))
    assert agent.post(PAGE, {"form": "word", "word": "x", "action": "mask"}).status_code == 403
    word = SensitiveWord.objects.create(shop=shop_a.shop, word="kept")
    url = reverse("web:admin-safety-word", args=[word.pk])
    assert agent.post(url, {"op": "delete"}).status_code == 403
    assert SensitiveWord.objects.filter(pk=word.pk).exists()
