"""The widget's admin page, issue 10: the question menu (seed 002) and the links of the order and
after-sales cards to the shop's pages, through the settings service (a bad link is shown next to
its field and changes nothing)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import ShopKit
from tests.support.web import settings_of, signed_in

pytestmark = pytest.mark.django_db

PAGE = "web:admin-widget"
BASE = {"widget_color": "#1f5fbf", "widget_position": "right", "entrances": ["product"]}


def test_the_page_saves_the_menu_switch_and_the_links(shop_a: ShopKit) -> None:
    client = signed_in(shop_a.main)
    page = client.get(reverse(PAGE)).content.decode()
    assert 'name="order_url_template"' in page and 'name="intent_menu_enabled"' in page
    saved = client.post(
        reverse(PAGE),
        {
            **BASE,
            "order_url_template": "https://shop.example/orders/{order}",
            "after_sale_url_template": "https://shop.example/refunds/{after_sale}",
        },
    )
    assert saved.status_code == 302
    s = settings_of(shop_a)
    assert s.order_url_template == "https://shop.example/orders/{order}"
    assert s.after_sale_url_template == "https://shop.example/refunds/{after_sale}"
    assert s.intent_menu_enabled is False  # the box was left unticked


def test_a_bad_link_is_shown_next_to_its_field_and_nothing_changes(shop_a: ShopKit) -> None:
    client = signed_in(shop_a.main)
    response = client.post(
        reverse(PAGE),
        {**BASE, "intent_menu_enabled": "on", "order_url_template": "javascript:{order}"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["order_url_template"]
    s = settings_of(shop_a)
    assert s.order_url_template == "" and s.entrances == ["product", "order", "member"]
