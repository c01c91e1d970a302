"""The shop's profile (G1; issue 9): name, time zone, language of automatic messages and the
service's switch, in the browser and through ``/api/v1/shop/``, with manage_settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.permissions import Perm
from apps.shops.models import Shop, ShopSettings
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

PAGE = "web:admin-shop"
API = "/api/v1/shop/"


def test_main_account_saves_the_profile_and_the_switch_together(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    assert client.get(reverse(PAGE)).status_code == 200
    response = client.post(
        reverse(PAGE),
        {"name": "小店 A", "time_zone": "Europe/Berlin", "language": "en", "system_enabled": ""},
    )
    assert response.status_code == 302
    shop = Shop.objects.get(pk=shop_a.shop.pk)
    settings = ShopSettings.objects.get(shop=shop)
    assert (shop.name, shop.time_zone) == ("小店 A", "Europe/Berlin")
    assert (settings.language, settings.system_enabled) == ("en", False)


def test_errors_show_at_once_and_nothing_changes(shop_a: ShopKit):
    before = Shop.objects.get(pk=shop_a.shop.pk)
    response = signed_in(shop_a.main).post(
        reverse(PAGE), {"name": "", "time_zone": "Mars/Olympus", "language": "fr"}
    )
    assert response.status_code == 200
    assert {"name", "time_zone", "language"} <= set(response.context["form"].errors)
    after = Shop.objects.get(pk=shop_a.shop.pk)
    assert (after.name, after.time_zone) == (before.name, before.time_zone)


def test_without_manage_settings_the_page_and_the_change_are_403(shop_a: ShopKit):
    agent = shop_a.sub("a", {Perm.CHAT})
    client = signed_in(agent)
    assert client.get(reverse(PAGE)).status_code == 403
    assert reverse(PAGE) not in client.get(reverse("web:workbench")).content.decode()
    api = shop_a.client(agent)
    assert api.get(API).json()["slug"] == "shop-a"  # staff read it
    refused = api.patch(API, {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert Shop.objects.get(pk=shop_a.shop.pk).name != "x"


def test_the_api_changes_name_and_time_zone_and_names_bad_fields(shop_a: ShopKit):
    api = shop_a.client()
    changed = api.patch(API, {"name": " 新名字 ", "time_zone": "Asia/Tokyo"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["name"] == "新名字" and changed.json()["time_zone"] == "Asia/Tokyo"
    bad = api.patch(API, {"time_zone": "Nowhere/Land", "name": ""}, format="json")
    assert bad.status_code == 400
    assert {"time_zone", "name"} <= set(bad.json()["errors"])
    assert Shop.objects.get(pk=shop_a.shop.pk).time_zone == "Asia/Tokyo"
