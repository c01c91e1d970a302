"""A widget for every shop (SPEC F1, H3; issue 9): ``/widget/<slug>/`` may be framed by the shop's
widget origins alone, every other page by nobody."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.shops.models import ShopSettings
from conftest import ShopKit

pytestmark = pytest.mark.django_db


def frame_ancestors(response) -> str:  # type: ignore[no-untyped-def]
    """The ``frame-ancestors`` directive of the response's Content-Security-Policy (the rest of
    the strict policy is the same on every page: tests/browser/test_csp.py)."""
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    return next(d for d in directives if d.startswith("frame-ancestors"))


def test_the_shops_widget_may_be_framed_by_its_origins_only(shop_a: ShopKit):
    ShopSettings.objects.filter(shop=shop_a.shop).update(
        widget_origins=["https://shop-a.example", "https://m.shop-a.example"]
    )
    response = Client().get("/widget/shop-a/?entrance=product&product=p-1")
    assert response.status_code == 200
    assert frame_ancestors(response) == (
        "frame-ancestors 'self' https://shop-a.example https://m.shop-a.example"
    )
    assert "X-Frame-Options" not in response
    widget = response.context["widget"]
    assert (widget["shop"], widget["entrance"], widget["product"]) == ("shop-a", "product", "p-1")
    assert widget["from_hash"] and widget["signature"] == ""  # the identity is the fragment's


def test_a_widget_with_no_origins_may_be_framed_by_the_helpdesk_alone(shop_a: ShopKit):
    response = Client().get("/widget/shop-a/")
    assert frame_ancestors(response) == "frame-ancestors 'self'"


def test_every_other_page_may_be_framed_by_nobody(shop_a: ShopKit):
    for path in ("/login/", "/signup/", "/demo/widget/"):
        response = Client().get(path)
        assert frame_ancestors(response) == "frame-ancestors 'none'", path
        assert response["X-Frame-Options"] == "DENY", path


def test_an_unknown_shop_or_entrance(shop_a: ShopKit):
    assert Client().get("/widget/no-such-shop/").status_code == 404
    # an entrance the shop does not offer falls back to its first one
    offered = ShopSettings.objects.get(shop=shop_a.shop).entrances
    response = Client().get("/widget/shop-a/?entrance=nonsense")
    assert response.context["widget"]["entrance"] == offered[0]


def test_each_response_gets_its_own_policy_when_policies_are_remembered(shop_a: ShopKit):
    # The middleware remembers the policies it built (issue 8): a widget framed by one set of
    # origins, a changed set, and the pages framed by nobody, in turn, each keep their own.
    client = Client()
    settings = ShopSettings.objects.filter(shop=shop_a.shop)
    settings.update(widget_origins=["https://one.example"])
    for _round in range(2):
        assert frame_ancestors(client.get("/widget/shop-a/")) == (
            "frame-ancestors 'self' https://one.example"
        )
        assert frame_ancestors(client.get("/login/")) == "frame-ancestors 'none'"
    settings.update(widget_origins=["https://two.example"])
    assert frame_ancestors(client.get("/widget/shop-a/")) == (
        "frame-ancestors 'self' https://two.example"
    )
    assert frame_ancestors(client.get("/login/")) == "frame-ancestors 'none'"
    full = client.get("/login/")["Content-Security-Policy"]
    assert "default-src 'self'" in full and "object-src 'none'" in full
