"""The widget's admin page (SPEC F1, H3, G1; issue 9): allowed sites, entrances and anonymous
visitors through the settings service, the embed snippet, a live preview, the secret for the main
account alone."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from conftest import ShopKit
from tests.support.web import settings_of, signed_in
from tests.web.test_widget_page import frame_ancestors

pytestmark = pytest.mark.django_db

PAGE = "web:admin-widget"
LOOK = {"widget_color": "#1f5fbf", "widget_position": "right"}  # the defaults, as the page posts


def test_main_account_sets_the_allowed_sites_and_sees_snippet_secret_and_preview(
    shop_a: ShopKit,
):
    client = signed_in(shop_a.main)
    response = client.get(reverse(PAGE))
    page = response.content.decode()
    secret = settings_of(shop_a).widget_secret
    assert "data-shop=&quot;shop-a&quot;" in page and "/static/js/embed.js" in page
    assert secret in page
    # the preview is the real widget, signed in as a test buyer of the shop
    preview = urlsplit(response.context["preview_url"])
    assert preview.path == "/widget/shop-a/"
    identity = parse_qs(preview.fragment)
    buyer = identity["buyer_id"][0]
    expected = hmac.new(secret.encode(), buyer.encode(), hashlib.sha256).hexdigest()
    assert identity["signature"] == [expected]

    saved = client.post(
        reverse(PAGE),
        {
            "widget_origins": "https://www.shop-a.example/\n\nhttp://127.0.0.1:8080",
            "entrances": ["product", "order"],
            "allow_anonymous_buyers": "on",
            **LOOK,
        },
    )
    assert saved.status_code == 302
    s = settings_of(shop_a)
    assert s.widget_origins == ["https://www.shop-a.example", "http://127.0.0.1:8080"]
    assert s.entrances == ["product", "order"] and s.allow_anonymous_buyers is True
    # and the widget is framed from those sites alone
    csp = frame_ancestors(Client().get("/widget/shop-a/"))
    assert csp == "frame-ancestors 'self' https://www.shop-a.example http://127.0.0.1:8080"


def test_a_bad_site_is_shown_next_to_its_field_and_nothing_changes(shop_a: ShopKit):
    before = settings_of(shop_a)
    response = signed_in(shop_a.main).post(
        reverse(PAGE),
        {"widget_origins": "ftp://files.example\nhttps://shop.example/checkout", "entrances": []},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "ftp://files.example" in errors["widget_origins"][0]
    assert "https://shop.example/checkout" in errors["widget_origins"][0]
    after = settings_of(shop_a)
    assert (after.widget_origins, after.entrances) == (before.widget_origins, before.entrances)


def test_the_secret_is_the_main_accounts_alone(shop_a: ShopKit):
    manager = shop_a.sub("m", {Perm.CHAT, Perm.MANAGE_SETTINGS})
    secret = settings_of(shop_a).widget_secret
    client = signed_in(manager)
    page = client.get(reverse(PAGE)).content.decode()
    assert secret not in page and "data-widget-preview" in page
    assert client.post(reverse("web:admin-widget-rotate")).status_code == 403
    assert settings_of(shop_a).widget_secret == secret
    # the main account rotates it
    assert signed_in(shop_a.main).post(reverse("web:admin-widget-rotate")).status_code == 302
    assert settings_of(shop_a).widget_secret != secret


def test_without_manage_settings_the_page_is_403_and_not_in_the_menu(shop_a: ShopKit):
    agent = shop_a.sub("a", {Perm.CHAT})
    client = signed_in(agent)
    assert client.get(reverse(PAGE)).status_code == 403
    assert client.post(reverse(PAGE), {"widget_origins": "https://x.example"}).status_code == 403
    assert reverse(PAGE) not in client.get(reverse("web:workbench")).content.decode()
    assert settings_of(shop_a).widget_origins == []


def test_the_widget_looks_as_the_shop_sets_it(shop_a: ShopKit):
    # seed 003 (display settings): title, colour, launcher corner and a greeting
    client = signed_in(shop_a.main)
    saved = client.post(
        reverse(PAGE),
        {
            "entrances": ["product"],
            "widget_title": "Shop A 客服",
            "widget_color": "#C2185B",
            "widget_position": "left",
            "widget_greeting": "Hi! Orders ship within 24 h.",
        },
    )
    assert saved.status_code == 302
    s = settings_of(shop_a)
    assert (s.widget_title, s.widget_color, s.widget_position) == ("Shop A 客服", "#C2185B", "left")
    # the buyer's widget shows them
    page = Client().get("/widget/shop-a/").content.decode()
    assert "Shop A 客服</h1>" in page
    assert 'data-color="#C2185B"' in page
    assert "Hi! Orders ship within 24 h.</p>" in page
    # and the embed script reads them from any shop page's origin
    look = Client().get("/api/v1/widget/appearance/shop-a/", HTTP_ORIGIN="https://x.example")
    assert look.json() == {
        "title": "Shop A 客服",
        "color": "#C2185B",
        "position": "left",
        "greeting": "Hi! Orders ship within 24 h.",
        "system_enabled": True,
        "queue_mode": "shop",  # issue 10, seed 004: the chat window says the shop queues
        "intent_menu_enabled": False,  # issue 10, seed 002 (the page's box was left unticked)
    }
    assert look["Access-Control-Allow-Origin"] == "*"
    assert Client().get("/api/v1/widget/appearance/no-such-shop/").status_code == 404


def test_a_bad_colour_or_corner_is_refused_with_the_others_and_nothing_changes(shop_a: ShopKit):
    response = signed_in(shop_a.main).post(
        reverse(PAGE),
        {"widget_color": "red", "widget_position": "top", "widget_title": "x" * 41},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"widget_color", "widget_position", "widget_title"}
    s = settings_of(shop_a)
    assert (s.widget_color, s.widget_position, s.widget_title) == ("#1f5fbf", "right", "")
    # the API says the same
    api = APIClient()
    api.force_authenticate(shop_a.main)
    bad = api.patch("/api/v1/settings/", {"widget_color": "#12345"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["widget_color"]
    good = api.patch("/api/v1/settings/", {"widget_position": "left"}, format="json")
    assert good.status_code == 200 and good.json()["widget_position"] == "left"
