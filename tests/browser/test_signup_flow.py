"""The foundation in a real browser (SPEC A1-A3, E1): a shop signs up, creates a sub-account on
the admin pages, and that agent signs in as ``shop:name`` (also with a full-width colon) and
reaches its workbench. Drives Debian Chromium through Playwright against pytest-django's
live server."""

from __future__ import annotations

import os

# Playwright's sync API runs an event loop in this thread; the ORM calls here are plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from apps.accounts.models import Account
from apps.routing.models import AgentState, AgentStatus

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOP_PASSWORD = "owner-passphrase-2026"
AGENT_PASSWORD = "agent-passphrase-2026"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (Debian's chromium package).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server, transactional_db, fast_password_hasher) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, login_name: str, password: str) -> None:
    page.get_by_label("Login name").fill(login_name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_shop_signs_up_creates_an_agent_who_signs_in_with_shop_colon_name(page: Page):
    # A shop signs up and lands on its workbench, signed in as the main account.
    page.goto("/signup/")
    page.get_by_label("Shop login name").fill("flow-shop")
    page.get_by_label("Shop name").fill("Flow Shop 流程小店")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Shanghai")
    page.get_by_label("Password", exact=True).fill(SHOP_PASSWORD)
    page.get_by_label("Password again").fill(SHOP_PASSWORD)
    page.get_by_role("button", name="Create the shop").click()
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    expect(page.get_by_role("heading", name="Flow Shop 流程小店")).to_be_visible()

    # The main account creates a sub-account with a Chinese name on the admin pages.
    page.get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/admin/accounts/$"))
    expect(page.get_by_role("navigation", name="Admin pages")).to_contain_text("Routing and queue")
    page.get_by_role("link", name="New sub-account").click()
    page.get_by_label("Account name").fill("小王")
    page.get_by_label("Display name").fill("Wang")
    page.get_by_label("Password", exact=True).fill(AGENT_PASSWORD)
    page.get_by_role("button", name="Create sub-account").click()
    expect(page).to_have_url(re.compile(r"/admin/accounts/$"))
    expect(page.get_by_text("Sub-account flow-shop:小王 was created.")).to_be_visible()
    expect(page.locator('tr[data-account="flow-shop:小王"]')).to_contain_text("Wang")

    sign_out(page)

    # A wrong password is refused with a clear message.
    sign_in(page, "flow-shop:小王", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("The login name or the password is wrong")

    # The agent signs in as shop:name and sees its own workbench, without the admin pages.
    sign_in(page, "flow-shop:小王", AGENT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    expect(page.get_by_role("heading", name="Wang")).to_be_visible()
    expect(page.get_by_text("flow-shop:小王 · Sub-account")).to_be_visible()
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Accounts")).to_have_count(0)
    # its "Admin" holds only what "chat" opens: its own quick replies
    page.get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/admin/quick-replies/$"))
    expect(page.get_by_role("navigation", name="Admin pages").get_by_role("link")).to_have_count(1)
    page.goto("/workbench/")

    # The status switch goes through the API with the page's session and CSRF token.
    with page.expect_response("**/api/v1/me/status/") as answer:
        page.get_by_text("Online", exact=True).click()
    assert answer.value.status == 200
    expect(page.locator("#status-online")).to_be_checked()
    agent = Account.objects.get(username="flow-shop:小王")
    assert AgentState.objects.get(account=agent).status == AgentStatus.ONLINE

    sign_out(page)

    # Typed with the full-width colon of a Chinese keyboard, the same login works.
    sign_in(page, "flow-shop：小王", AGENT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    expect(page.get_by_role("heading", name="Wang")).to_be_visible()
