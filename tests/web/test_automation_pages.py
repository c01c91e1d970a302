"""The automatic replies, timeouts, private contacts and intents pages (SPEC D1-D6, B4, B8, G1,
A4; issue 9): each saves through the API's services what the API then shows, every error at
once with nothing written, previews in both languages, other shops' ids 404, permissions 403."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from apps.accounts.permissions import Perm
from apps.conversations.models import IntentRule, PrivateContact
from apps.routing.models import Group
from apps.shopdata.models import Buyer
from conftest import ShopKit
from tests.support.web import settings_of, signed_in

pytestmark = pytest.mark.django_db

REPLIES = "web:admin-replies"
TIMEOUTS = "web:admin-timeouts"
CONTACTS = "web:admin-private-contacts"
INTENTS = "web:admin-intents"

WELCOME_EN = "Hello, glad to help you! What can I do for you?"
WELCOME_ZH = "您好，很高兴为您服务！请问有什么可以帮您？"
QUEUE_EN = "You are number 3 in the queue; the wait is about 4 minutes."
QUEUE_ZH = "您当前排在第3位，预计等待约4分钟。"


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def replies_form(**overrides: str) -> dict[str, str]:
    data = {
        "welcome_enabled": "on",
        "welcome_text": "",
        "offhours_enabled": "on",
        "offhours_text": "",
        "queueing_enabled": "on",
        "queueing_text": "",
        "rating_enabled": "on",
        "paused_enabled": "on",
        "paused_text": "",
        "buyer_warning_text": "",
        "buyer_close_text": "",
        "agent_warning_text": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "off"}


# --- Automatic replies (SPEC D1-D6) ----------------------------------------------------------


def test_previews_show_the_default_texts_in_both_languages(shop_a: ShopKit):
    response = signed_in(shop_a.main).get(reverse(REPLIES))
    assert response.status_code == 200
    page = page_text(response)
    assert page.count(WELCOME_EN) >= 2 and WELCOME_ZH in page  # preview (+ placeholder, zh shop)
    # D3: the queue line with example figures follows the text, in each language
    assert QUEUE_EN in page and QUEUE_ZH in page
    # D5: the closing notice names the shop's silence timeout (5 minutes by default)
    assert "sent no message for 5 minutes" in page and "5分钟没有发送任何消息" in page
    # the empty field shows the default in the shop's language (zh-hans) as its placeholder
    assert f'placeholder="{WELCOME_ZH}"' in page


def test_the_owners_texts_and_switches_are_saved_and_previewed(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    response = client.post(
        reverse(REPLIES),
        replies_form(
            welcome_text="欢迎光临小店 A！",
            queueing_text="稍等一下哦",
            buyer_close_text="{minutes} 分钟没说话，先结束啦",
            rating_enabled="off",
            offhours_enabled="off",
        ),
    )
    assert response.status_code == 302
    s = settings_of(shop_a)
    assert (s.welcome_text, s.queueing_text) == ("欢迎光临小店 A！", "稍等一下哦")
    assert (s.rating_enabled, s.offhours_enabled, s.welcome_enabled) == (False, False, True)
    api = shop_a.client().get("/api/v1/settings/").json()
    assert api["welcome_text"] == "欢迎光临小店 A！" and api["rating_enabled"] is False
    # the previews show the shop's own text, figures filled in, in both languages
    page = page_text(client.get(reverse(REPLIES)))
    assert page.count("欢迎光临小店 A！") >= 3  # the field and both previews
    assert "稍等一下哦\n" + QUEUE_EN in page and "稍等一下哦\n" + QUEUE_ZH in page
    assert "5 分钟没说话，先结束啦" in page  # {minutes} became the timeout


PAUSED_EN = (
    "Your agent has stepped away for a moment and will answer you as soon as they are back. "
    "Your messages are kept."
)
PAUSED_ZH = "您的客服暂时离开，回来后会尽快回复您。您的消息都会保留。"


def test_the_pause_notice_is_on_the_page_with_its_switch(shop_a: ShopKit):
    # seed 001 (挂起): the notice buyers read when their agent pauses
    client = signed_in(shop_a.main)
    page = page_text(client.get(reverse(REPLIES)))
    assert PAUSED_EN in page and PAUSED_ZH in page
    saved = client.post(
        reverse(REPLIES),
        replies_form(paused_text="客服去仓库看货了，马上回来", paused_enabled="off"),
    )
    assert saved.status_code == 302
    s = settings_of(shop_a)
    assert (s.paused_text, s.paused_enabled) == ("客服去仓库看货了，马上回来", False)
    assert page_text(client.get(reverse(REPLIES))).count("客服去仓库看货了，马上回来") >= 3


def test_a_too_long_text_is_refused_with_every_error_and_nothing_saved(shop_a: ShopKit):
    before = settings_of(shop_a)
    response = signed_in(shop_a.main).post(
        reverse(REPLIES),
        replies_form(
            welcome_text="新的欢迎语",
            offhours_text="x" * 1001,
            agent_warning_text="y" * 1001,
            welcome_enabled="off",
        ),
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"offhours_text", "agent_warning_text"}
    after = settings_of(shop_a)
    assert (after.welcome_text, after.welcome_enabled) == (before.welcome_text, True)


def test_replies_need_manage_settings(shop_a: ShopKit):
    agent = signed_in(shop_a.sub("agent", {Perm.CHAT}))
    assert agent.get(reverse(REPLIES)).status_code == 403
    assert agent.post(reverse(REPLIES), replies_form(welcome_text="x")).status_code == 403
    assert agent.get(reverse(TIMEOUTS)).status_code == 403
    assert settings_of(shop_a).welcome_text == ""
    manager = signed_in(shop_a.sub("manager", {Perm.MANAGE_SETTINGS}))
    assert manager.get(reverse(REPLIES)).status_code == 200
    assert manager.get(reverse(TIMEOUTS)).status_code == 200
    assert manager.post(reverse(REPLIES), replies_form(welcome_text="好")).status_code == 302
    assert settings_of(shop_a).welcome_text == "好"


# --- Timeouts (SPEC D5, D6) ------------------------------------------------------------------


def test_timeouts_are_saved_in_seconds_from_minutes_and_seconds(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    page = page_text(client.get(reverse(TIMEOUTS)))
    # the defaults, in plain words (300 s with a warning 120 s before)
    assert (
        "A buyer silent for 5 minutes is warned at 3 minutes and the conversation closes at "
        "5 minutes." in page
    )
    response = client.post(
        reverse(TIMEOUTS),
        {
            "buyer_silence_seconds": "10:00",
            "buyer_warning_seconds": "90",
            "agent_silence_seconds": "4m",
            "agent_warning_seconds": "0",
            "agent_silence_action": "reassign",
        },
    )
    assert response.status_code == 302
    s = settings_of(shop_a)
    assert (s.buyer_silence_seconds, s.buyer_warning_seconds) == (600, 90)
    assert (s.agent_silence_seconds, s.agent_warning_seconds) == (240, 0)
    api = shop_a.client().get("/api/v1/settings/").json()
    assert (api["buyer_silence_seconds"], api["agent_silence_action"]) == (600, "reassign")
    page = page_text(client.get(reverse(TIMEOUTS)))
    assert "A buyer silent for 10 minutes is warned at 8 min 30 s" in page
    assert "goes to another agent" in page


def test_a_warning_after_its_timeout_and_bad_durations_show_at_once_nothing_saved(
    shop_a: ShopKit,
):
    client = signed_in(shop_a.main)
    response = client.post(
        reverse(TIMEOUTS),
        {
            "buyer_silence_seconds": "120",
            "buyer_warning_seconds": "3:00",
            "agent_silence_seconds": "60",
            "agent_warning_seconds": "60",
            "agent_silence_action": "close",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"buyer_warning_seconds", "agent_warning_seconds"}
    assert "The warning must come before the timeout." in errors["buyer_warning_seconds"]
    s = settings_of(shop_a)
    assert (s.buyer_silence_seconds, s.agent_silence_seconds) == (300, 180)
    # unparsable and longer than a week, both at once
    response = client.post(
        reverse(TIMEOUTS),
        {
            "buyer_silence_seconds": "soon",
            "buyer_warning_seconds": "60",
            "agent_silence_seconds": str(7 * 24 * 3600 + 1),
            "agent_warning_seconds": "60",
            "agent_silence_action": "sleep",
        },
    )
    errors = response.context["form"].errors
    assert set(errors) == {"buyer_silence_seconds", "agent_silence_seconds", "agent_silence_action"}
    assert settings_of(shop_a).buyer_warning_seconds == 120


# --- Private contacts (SPEC B8) --------------------------------------------------------------


def test_private_contacts_are_added_listed_and_removed(shop_a: ShopKit):
    Buyer.objects.create(shop=shop_a.shop, external_id="vip-1", name="老顾客")
    client = signed_in(shop_a.main)
    response = client.post(reverse(CONTACTS), {"buyer": " vip-1 "}, follow=True)
    assert "老顾客 is a private contact now." in page_text(response)
    page = page_text(response)
    assert 'data-private-contact="vip-1"' in page
    # the API lists what the page added
    listed = shop_a.client().get("/api/v1/private-contacts/").json()["results"]
    assert [(c["buyer"], c["name"]) for c in listed] == [("vip-1", "老顾客")]
    # a buyer the shop has not pushed yet is kept by its id, with a word of caution
    response = client.post(reverse(CONTACTS), {"buyer": "new-7"}, follow=True)
    assert "has not sent this buyer yet" in page_text(response)
    # removed with the row's button
    response = client.post(reverse("web:admin-private-contact-remove"), {"buyer": "vip-1"})
    assert response.status_code == 302
    assert list(
        PrivateContact.objects.filter(shop=shop_a.shop).values_list("buyer__external_id", flat=True)
    ) == ["new-7"]


def test_a_bad_buyer_id_shows_next_to_the_field_and_nothing_is_added(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    for bad in ("   ", "x" * 65, "a\x01b"):
        response = client.post(reverse(CONTACTS), {"buyer": bad})
        assert response.status_code == 200
        assert list(response.context["form"].errors) == ["buyer"]
    assert not PrivateContact.objects.filter(shop=shop_a.shop).exists()


def test_another_shops_private_contact_cannot_be_removed(shop_a: ShopKit, shop_b: ShopKit):
    theirs = Buyer.objects.create(shop=shop_b.shop, external_id="vip-b")
    PrivateContact.objects.create(shop=shop_b.shop, buyer=theirs)
    client = signed_in(shop_a.main)
    assert "vip-b" not in page_text(client.get(reverse(CONTACTS)))
    response = client.post(reverse("web:admin-private-contact-remove"), {"buyer": "vip-b"})
    assert response.status_code == 404
    assert PrivateContact.objects.filter(shop=shop_b.shop).count() == 1


# --- Intents (SPEC B4) -----------------------------------------------------------------------


def test_intents_are_created_edited_and_deleted(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    response = client.post(
        reverse("web:admin-intent-create"),
        {"name": " 退款 ", "keywords": "退款\n退货，退钱, refund\n\n退款"},
    )
    assert response.status_code == 302
    rule = IntentRule.objects.get(shop=shop_a.shop)
    assert (rule.name, rule.keywords) == ("退款", ["refund", "退款", "退货", "退钱"])
    api = shop_a.client().get("/api/v1/intent-rules/").json()["results"]
    assert [(r["name"], r["keywords"]) for r in api] == [("退款", rule.keywords)]
    # the list shows it with the groups scoped by it
    Group.objects.create(shop=shop_a.shop, name="售后", scope_intents=["退款"])
    page = page_text(client.get(reverse(INTENTS)))
    assert f'data-intent="{rule.pk}"' in page and "售后" in page
    # edit
    edit = reverse("web:admin-intent-edit", args=[rule.pk])
    assert "退货" in page_text(client.get(edit))
    assert client.post(edit, {"name": "售后退款", "keywords": "退款"}).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.keywords) == ("售后退款", ["退款"])
    # delete
    response = client.post(reverse("web:admin-intent-delete", args=[rule.pk]))
    assert response.status_code == 302
    assert not IntentRule.objects.filter(shop=shop_a.shop).exists()


def test_a_duplicate_name_and_no_keywords_show_at_once_and_nothing_changes(shop_a: ShopKit):
    IntentRule.objects.create(shop=shop_a.shop, name="物流", keywords=["快递"])
    other = IntentRule.objects.create(shop=shop_a.shop, name="退款", keywords=["退款"])
    client = signed_in(shop_a.main)
    response = client.post(reverse("web:admin-intent-create"), {"name": "物流", "keywords": " , "})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"keywords"}  # the form's own check first
    response = client.post(reverse("web:admin-intent-create"), {"name": "物流", "keywords": "x"})
    assert response.context["form"].errors == {"name": ["An intent with this name already exists."]}
    response = client.post(
        reverse("web:admin-intent-edit", args=[other.pk]), {"name": "物流", "keywords": "y"}
    )
    assert response.status_code == 200 and "name" in response.context["form"].errors
    rows = list(
        IntentRule.objects.filter(shop=shop_a.shop).order_by("pk").values_list("name", "keywords")
    )
    assert rows == [("物流", ["快递"]), ("退款", ["退款"])]


def test_another_shops_intent_is_404(shop_a: ShopKit, shop_b: ShopKit):
    theirs = IntentRule.objects.create(shop=shop_b.shop, name="theirs", keywords=["x"])
    client = signed_in(shop_a.main)
    assert "theirs" not in page_text(client.get(reverse(INTENTS)))
    edit = reverse("web:admin-intent-edit", args=[theirs.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, {"name": "mine", "keywords": "y"}).status_code == 404
    assert client.post(reverse("web:admin-intent-delete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.keywords) == ("theirs", ["x"])


@pytest.mark.parametrize("page", [CONTACTS, INTENTS, "web:admin-intent-create"])
def test_private_contacts_and_intents_need_manage_routing_like_the_api(shop_a: ShopKit, page):
    # SPEC A4: both feed routing (B8, B4); the API asks manage_routing for their changes
    settings_only = signed_in(shop_a.sub("settings", {Perm.MANAGE_SETTINGS}))
    assert settings_only.get(reverse(page)).status_code == 403
    assert (
        settings_only.post(reverse(page), {"buyer": "b", "name": "n", "keywords": "k"}).status_code
        == 403
    )
    assert not PrivateContact.objects.exists() and not IntentRule.objects.exists()
    router = signed_in(shop_a.sub("router", {Perm.MANAGE_ROUTING}))
    assert router.get(reverse(page)).status_code == 200
