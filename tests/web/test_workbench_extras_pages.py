"""The workbench extras' server side (amended decision: ending asks for confirmation unless the
shop turns that off; seed 002: the installable workbench): the ``confirm_end`` setting through
the settings API and the Timeouts page, handed to the workbench as ``data-confirm-end``; the
manifest and the service worker."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.permissions import Perm
from conftest import ShopKit
from tests.support.web import settings_of, signed_in

pytestmark = pytest.mark.django_db

TIMEOUTS = "web:admin-timeouts"
TIMEOUTS_FORM = {
    "buyer_silence_seconds": "300",
    "buyer_warning_seconds": "120",
    "agent_silence_seconds": "180",
    "agent_warning_seconds": "60",
    "agent_silence_action": "close",
}


def test_ending_asks_by_default_and_the_api_turns_it_off(shop_a: ShopKit, shop_b: ShopKit):
    api = shop_a.client()
    assert api.get("/api/v1/settings/").json()["confirm_end"] is True
    answer = api.patch("/api/v1/settings/", {"confirm_end": False}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["confirm_end"] is False
    assert settings_of(shop_a).confirm_end is False
    assert settings_of(shop_b).confirm_end is True  # the other shop keeps its own


def test_an_agent_without_manage_settings_cannot_turn_it_off(shop_a: ShopKit):
    agent = shop_a.sub("agent", [Perm.CHAT])
    answer = shop_a.client(agent).patch("/api/v1/settings/", {"confirm_end": False}, format="json")
    assert answer.status_code == 403
    assert settings_of(shop_a).confirm_end is True


def test_the_timeouts_page_switches_the_confirmation(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    page = client.get(reverse(TIMEOUTS)).content.decode()
    assert 'name="confirm_end"' in page
    assert "Ask agents to confirm before a conversation ends" in page
    response = client.post(reverse(TIMEOUTS), TIMEOUTS_FORM)  # the box left unticked
    assert response.status_code == 302
    assert settings_of(shop_a).confirm_end is False
    client.post(reverse(TIMEOUTS), {**TIMEOUTS_FORM, "confirm_end": "on"})
    assert settings_of(shop_a).confirm_end is True


def test_the_workbench_is_told_whether_ending_asks(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    assert 'data-confirm-end="1"' in client.get(reverse("web:workbench")).content.decode()
    shop_a.client().patch("/api/v1/settings/", {"confirm_end": False}, format="json")
    assert 'data-confirm-end="0"' in client.get(reverse("web:workbench")).content.decode()


def test_the_manifest_and_service_worker_are_served(shop_a: ShopKit):
    page = signed_in(shop_a.main).get(reverse("web:workbench")).content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert 'data-sw-url="/workbench/sw.js"' in page
    manifest = Client().get("/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = json.loads(manifest.content)
    assert (data["name"], data["start_url"], data["display"]) == (
        "Shop helpdesk",
        "/workbench/",
        "standalone",
    )
    assert {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    zh = Client().get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert json.loads(zh.content)["start_url"] == "/workbench/"
    worker = Client().get("/workbench/sw.js")
    assert worker.status_code == 200
    assert worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/workbench/"
    body = worker.content.decode()
    assert "/static/js/workbench.js" in body
    assert "/api/" not in body  # API answers are never kept
