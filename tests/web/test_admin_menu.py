"""The admin menu and its permissions (SPEC A4, G1; issue 9, must show 3): every admin page
opens only with the permission that governs it, the menu lists exactly the pages an account may
open, and the settings API refuses the same accounts."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.shops.models import ShopSettings
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

# Each admin page and the permission that governs it (SPEC A4: groups, routing, private contacts
# and intents need manage_routing, accounts manage_accounts, every other setting
# manage_settings), as the API's write endpoints rule.
PAGES = {
    "web:admin-accounts": Perm.MANAGE_ACCOUNTS,
    "web:admin-groups": Perm.MANAGE_ROUTING,
    "web:admin-routing": Perm.MANAGE_ROUTING,
    "web:admin-hours": Perm.MANAGE_SETTINGS,
    "web:admin-private-contacts": Perm.MANAGE_ROUTING,  # they route (B8, B4), as the API rules
    "web:admin-intents": Perm.MANAGE_ROUTING,
    "web:admin-replies": Perm.MANAGE_SETTINGS,
    "web:admin-timeouts": Perm.MANAGE_SETTINGS,
    "web:admin-shop": Perm.MANAGE_SETTINGS,
    "web:admin-widget": Perm.MANAGE_SETTINGS,
    # SPEC G2, G3 (issue 11): the live board and the metrics; their targets are a setting
    "web:admin-board": Perm.VIEW_MONITOR,
    "web:admin-metrics": Perm.VIEW_MONITOR,
    "web:admin-targets": Perm.MANAGE_SETTINGS,
    "web:admin-forecast": Perm.VIEW_MONITOR,  # SPEC G4, gated like the metrics
    "web:admin-integrations": Perm.MANAGE_SETTINGS,  # SPEC H2, H4, as the API rules
    "web:admin-safety": Perm.MANAGE_SETTINGS,  # SPEC I6, as the API rules
}


def menu_of(client: Client) -> str:
    """The admin menu as an agent sees it on the one admin page it always opens."""
    page = client.get(reverse("web:admin-quick-replies")).content.decode()
    start = page.index('<nav class="admin-nav"')
    return page[start : page.index("</nav>", start)]


@pytest.mark.parametrize(("name", "perm"), list(PAGES.items()))
def test_each_page_opens_with_its_permission_alone_and_is_listed_only_then(
    shop_a: ShopKit, name: str, perm: Perm
):
    url = reverse(name)
    without = signed_in(shop_a.sub("plain", {Perm.CHAT}))
    assert without.get(url).status_code == 403
    assert without.post(url, {}).status_code == 403
    assert f'href="{url}"' not in menu_of(without)
    assert f'href="{url}"' not in without.get(reverse("web:workbench")).content.decode()

    holder = signed_in(shop_a.sub("holder", {Perm.CHAT, perm}))
    assert holder.get(url).status_code == 200
    assert f'href="{url}"' in menu_of(holder)
    # and it lists nothing its permissions do not open
    for other, needed in PAGES.items():
        if needed != perm:
            assert f'href="{reverse(other)}"' not in menu_of(holder), other


def test_the_main_account_sees_every_page_and_admin_leads_to_the_first(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    menu = menu_of(client)
    for name in PAGES:
        assert f'href="{reverse(name)}"' in menu, name
    assert client.get(reverse("web:admin"))["Location"] == reverse("web:admin-accounts")
    # an agent's "Admin" leads to its own quick replies
    agent = signed_in(shop_a.sub("agent", {Perm.CHAT}))
    assert agent.get(reverse("web:admin"))["Location"] == reverse("web:admin-quick-replies")


def test_the_settings_api_refuses_what_the_pages_refuse(shop_a: ShopKit):
    api = APIClient()
    api.force_authenticate(shop_a.sub("agent", {Perm.CHAT}))
    assert api.patch("/api/v1/settings/", {"welcome_text": "hi"}, format="json").status_code == 403
    refused = api.patch("/api/v1/settings/", {"queue_order": "newest_first"}, format="json")
    assert refused.status_code == 403
    settings = ShopSettings.objects.get(shop=shop_a.shop)
    assert (settings.welcome_text, settings.queue_order) == ("", "wait_first")

    api.force_authenticate(shop_a.sub("settings", {Perm.MANAGE_SETTINGS}))
    assert api.patch("/api/v1/settings/", {"welcome_text": "hi"}, format="json").status_code == 200
    # a routing field needs manage_routing even with manage_settings
    refused = api.patch("/api/v1/settings/", {"queue_order": "newest_first"}, format="json")
    assert refused.status_code == 403
