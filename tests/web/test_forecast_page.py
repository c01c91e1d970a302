"""The staffing forecast page (SPEC G4, A4): gated like the API, it offers the shop's recorded
days (with their hourly counts), its accounts and groups for the roster, and posts to the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle as conv
from apps.routing.models import Group
from apps.shopdata.models import Buyer
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db
URL = "/admin/forecast/"


@pytest.fixture(autouse=True)
def _fast_passwords(fast_password_hasher: None) -> None:
    """Accounts made and checked in this process only (see the root conftest)."""


def test_the_page_opens_for_the_main_account_and_view_monitor_only(shop_a: ShopKit):
    assert reverse("web:admin-forecast") == URL
    assert signed_in(shop_a.main).get(URL).status_code == 200
    assert signed_in(shop_a.sub("lead", {Perm.VIEW_MONITOR})).get(URL).status_code == 200
    assert (
        signed_in(shop_a.sub("agent", {Perm.CHAT, Perm.MANAGE_ROUTING})).get(URL).status_code == 403
    )
    assert signed_in(shop_a.sub("agent2", {Perm.CHAT})).post(URL, {}).status_code in (403, 405)


def test_the_page_offers_the_recorded_days_accounts_and_groups_of_its_shop_only(
    shop_a: ShopKit, shop_b: ShopKit
):
    # given a day with two requests for a human at 10:xx in shop A, one in shop B
    group = Group.objects.create(shop=shop_a.shop, name="After-sales desk")
    Group.objects.create(shop=shop_b.shop, name="Other shop's desk")
    agent = shop_a.sub("xiaowang", {Perm.CHAT}, display_name="Xiao Wang")
    shop_b.sub("bella", {Perm.CHAT}, display_name="Bella of B")
    when = timezone.now().replace(hour=2, minute=30) - timedelta(days=1)  # 10:30 in Shanghai
    with time_machine.travel(when, tick=False):
        for kit, buyers in ((shop_a, 2), (shop_b, 1)):
            for n in range(buyers):
                buyer = Buyer.objects.create(shop=kit.shop, external_id=f"b{n}")
                conv.request_human(conversation=conv.conversation_open(buyer=buyer))
    # when the main account opens the page
    page = signed_in(shop_a.main).get(URL).content.decode()
    # then the day is there with its hourly counts, and only shop A's people and groups
    day = when.date().isoformat()
    assert f'value="{day}"' in page
    start = page.index(f'value="{day}" data-hours="') + len(f'value="{day}" data-hours="')
    hours = json.loads(page[start : page.index('"', start)].replace("&quot;", '"'))
    assert hours[10] == 2 and sum(hours) == 2
    assert "Xiao Wang" in page and f'value="{agent.pk}"' in page
    assert "After-sales desk" in page and f'value="{group.pk}"' in page
    assert "Bella of B" not in page and "Other shop" not in page
    assert 'data-api="/api/v1/forecast/"' in page
    assert "js/forecast.js" in page
