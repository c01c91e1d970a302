"""The integrations page in a real browser (SPEC H2; issue 12): the owner makes an API key, sees
it once, copies it with the button (the clipboard holds exactly the key), the key pushes a buyer,
and revoking it on the page stops it at once; the page fits a phone. Debian Chromium through
Playwright against pytest-django's live server."""

from __future__ import annotations

import os

# Playwright's sync API runs an event loop in this thread; the ORM calls here are plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from rest_framework.test import APIClient

from apps.integrations.models import ApiKey
from conftest import PASSWORD, make_shop
from tests.browser.test_signup_flow import browser, sign_in

pytestmark = [pytest.mark.browser]
__all__ = ["browser"]


@pytest.fixture
def page(browser: Browser, live_server, transactional_db, fast_password_hasher) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def test_the_owner_makes_copies_uses_and_revokes_a_key(page: Page):
    make_shop("keyshop", "Key Shop")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login/")
    sign_in(page, "keyshop", PASSWORD)
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    page.goto("/admin/integrations/")
    expect(page.locator("main h1")).to_have_text("Integrations")
    errors.clear()  # the workbench's socket: the live server speaks plain HTTP only

    # when the owner makes a key
    page.get_by_label("Key name").fill("ERP")
    page.get_by_role("button", name="Make a key").click()
    shown = page.locator("#new-key")
    expect(shown).to_be_visible()
    key = shown.inner_text().strip()
    assert key.startswith(ApiKey.objects.get().prefix) and len(key) == 46
    # and copies it with the button
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-status]").first).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key

    # then the key pushes the shop's data
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.put("/api/v1/buyers/b-1/", {"name": "张三"}, format="json").status_code == 201

    # and the list shows it by its prefix only, once the page is opened again
    page.goto("/admin/integrations/")
    expect(page.locator("#new-key")).to_have_count(0)
    row = page.locator("[data-api-key]")
    expect(row).to_contain_text("ERP")
    assert key not in page.content()
    # the page fits a phone
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when it is revoked on the page, the next request fails
    page.get_by_role("button", name="Revoke ERP").click()
    expect(page.get_by_text("The key was revoked")).to_be_visible()
    assert api.put("/api/v1/buyers/b-1/", {"name": "李四"}, format="json").status_code == 401
    assert errors == []
