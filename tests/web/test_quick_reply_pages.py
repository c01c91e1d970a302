"""The quick replies admin page (SPEC D7, G1; issue 9): shop-wide replies with manage_settings,
personal ones for every agent, every error next to its field, CSV import all or nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.accounts.permissions import Perm
from apps.quickreplies.models import QuickReply
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

LIST = "web:admin-quick-replies"


def test_main_account_creates_edits_and_deletes_a_shop_wide_reply(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    page = client.get(reverse(LIST)).content.decode()
    assert reverse(LIST) in page and "New shop-wide reply" in page

    created = client.post(
        reverse("web:admin-quick-reply-create"),
        {"category": "物流", "text": "今天发货", "keywords": "发货，快递, 物流", "position": "2"},
    )
    assert created.status_code == 302
    reply = QuickReply.objects.get()
    assert (reply.owner_id, reply.keywords, reply.position) == (None, ["发货", "快递", "物流"], 2)
    assert "今天发货" in client.get(reverse(LIST)).content.decode()

    edit = reverse("web:admin-quick-reply-edit", args=[reply.pk])
    assert 'value="发货, 快递, 物流"' in client.get(edit).content.decode()
    client.post(edit, {"category": "物流", "text": "明天发货", "keywords": "", "position": "0"})
    reply.refresh_from_db()
    assert (reply.text, reply.keywords) == ("明天发货", [])

    client.post(reverse("web:admin-quick-reply-delete", args=[reply.pk]))
    assert not QuickReply.objects.exists()


def test_every_error_shows_next_to_its_field_and_nothing_is_saved(shop_a: ShopKit):
    response = signed_in(shop_a.main).post(
        reverse("web:admin-quick-reply-create"),
        {"text": "", "keywords": ",".join(f"k{i}" for i in range(21)), "position": "-1"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"text", "keywords", "position"} <= set(errors), errors
    assert not QuickReply.objects.exists()


def test_an_agent_manages_its_personal_replies_and_only_reads_the_shop_wide_ones(
    shop_a: ShopKit,
):
    agent = shop_a.sub("a", {Perm.CHAT})
    shared = QuickReply.objects.create(shop=shop_a.shop, text="共享的回复")
    client = signed_in(agent)
    page = client.get(reverse(LIST)).content.decode()
    assert "共享的回复" in page and "New shop-wide reply" not in page
    assert reverse("web:admin-quick-reply-edit", args=[shared.pk]) not in page
    # the shop-wide ones are 403 to change, and nothing changes
    edit = reverse("web:admin-quick-reply-edit", args=[shared.pk])
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"text": "改", "position": "0"}).status_code == 403
    assert client.post(reverse("web:admin-quick-reply-delete", args=[shared.pk])).status_code == 403
    assert client.get(reverse("web:admin-quick-reply-create")).status_code == 403
    assert QuickReply.objects.get(pk=shared.pk).text == "共享的回复"
    # its own personal replies it creates and changes
    client.post(
        reverse("web:admin-quick-reply-create") + "?personal=1", {"text": "我的", "position": "0"}
    )
    mine = QuickReply.objects.get(owner=agent)
    assert "我的" in client.get(reverse(LIST)).content.decode()
    # and a colleague's personal reply is not found
    other = signed_in(shop_a.sub("b", {Perm.CHAT}))
    assert other.get(reverse("web:admin-quick-reply-edit", args=[mine.pk])).status_code == 404
    assert "我的" not in other.get(reverse(LIST)).content.decode()


def test_an_account_without_chat_or_manage_settings_gets_403_and_no_menu_entry(shop_a: ShopKit):
    viewer = shop_a.sub("v", {Perm.VIEW_MONITOR})
    client = signed_in(viewer)
    assert client.get(reverse(LIST)).status_code == 403
    assert reverse(LIST) not in client.get(reverse("web:workbench")).content.decode()


def test_csv_import_adds_the_file_or_nothing(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    good = "category,text,keywords,position\n售后,七天无理由退货,退货;退款,1\n,您好,,0\n"
    response = client.post(
        reverse(LIST), {"file": SimpleUploadedFile("q.csv", good.encode(), "text/csv")}
    )
    assert response.status_code == 302
    assert set(QuickReply.objects.values_list("text", flat=True)) == {"您好", "七天无理由退货"}
    bad = "category,text\n售后,\n"
    refused = client.post(
        reverse(LIST), {"file": SimpleUploadedFile("q.csv", bad.encode(), "text/csv")}
    )
    assert refused.status_code == 200
    assert "Line 2" in refused.content.decode()
    assert QuickReply.objects.count() == 2


def test_another_shops_reply_is_404(shop_a: ShopKit, shop_b: ShopKit):
    foreign = QuickReply.objects.create(shop=shop_b.shop, text="别家的")
    client = signed_in(shop_a.main)
    assert client.get(reverse("web:admin-quick-reply-edit", args=[foreign.pk])).status_code == 404
    assert (
        client.post(reverse("web:admin-quick-reply-delete", args=[foreign.pk])).status_code == 404
    )
    assert QuickReply.objects.filter(pk=foreign.pk).exists()


def test_the_list_filters_by_category_and_searches(shop_a: ShopKit, shop_b: ShopKit):
    # seed 003: the list by category (all by default), and a search of texts and keywords
    def reply(kit: ShopKit, category: str, text: str, keywords: list[str]) -> None:
        QuickReply.objects.create(shop=kit.shop, category=category, text=text, keywords=keywords)

    reply(shop_a, "物流", "今天下午发货", ["发货"])
    reply(shop_a, "物流", "顺丰包邮", ["快递"])
    reply(shop_a, "售后", "七天无理由退货", ["退货"])
    reply(shop_b, "别家", "别家的回复", [])
    client = signed_in(shop_a.main)

    everything = client.get(reverse(LIST))
    assert everything.context["categories"] == ["售后", "物流"]  # its own shop's only
    assert len(everything.context["shop_wide"]) == 3

    logistics = client.get(reverse(LIST), {"category": "物流"}).context["shop_wide"]
    assert [r.text for r in logistics] == ["今天下午发货", "顺丰包邮"]
    found = client.get(reverse(LIST), {"q": "退货"}).context["shop_wide"]
    assert [r.text for r in found] == ["七天无理由退货"]
    both = client.get(reverse(LIST), {"category": "物流", "q": "快递"}).context["shop_wide"]
    assert [r.text for r in both] == ["顺丰包邮"]
    # another shop's category filters nothing away: it is not one of this shop's
    assert len(client.get(reverse(LIST), {"category": "别家"}).context["shop_wide"]) == 3
