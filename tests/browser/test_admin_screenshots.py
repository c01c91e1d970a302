"""Every admin page in both languages, on a desktop and on a phone (issue 9, must show 5): the
screenshots go to test-artifacts/screenshots/ (git-ignored) for people to look at; the test checks
what a user would notice: the page opens, speaks the language, and fits a phone's width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    browser,
    demo_server,
)
from tests.realtime.servers import BASE_DIR, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

SHOTS = Path(BASE_DIR) / "test-artifacts" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
# (name, path, its heading in English, in Chinese)
PAGES = [
    ("accounts", "/admin/accounts/", "Accounts", "账号管理"),
    ("account-new", "/admin/accounts/new/", "New sub-account", "新建子账号"),
    ("quick-replies", "/admin/quick-replies/", "Quick replies", "快捷回复"),
    ("quick-reply-new", "/admin/quick-replies/new/", "New shop-wide reply", "新建店铺共享回复"),
    ("groups", "/admin/groups/", "Routing groups", "分流分组"),
    ("group-new", "/admin/groups/new/", "New group", "新建分组"),
    ("routing", "/admin/routing/", "Routing and queue", "分流和排队"),
    ("hours", "/admin/hours/", "Business hours", "营业时间"),
    ("private-contacts", "/admin/private-contacts/", "Private contacts", "私密联系人"),
    ("intents", "/admin/intents/", "Intents", "意图"),
    ("intent-new", "/admin/intents/new/", "New intent", "新建意图"),
    ("replies", "/admin/replies/", "Automatic replies", "自动回复"),
    ("timeouts", "/admin/timeouts/", "Timeouts", "超时设置"),
    ("widget", "/admin/widget/", "Widget", "咨询窗口"),
    ("shop", "/admin/shop/", "Shop profile", "店铺资料"),
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_admin_pages_open_in_both_languages_and_fit_a_phone(
    browser: Browser, demo_server: Server, language: str, device: str
):
    ctx = browser.new_context(
        base_url=demo_server.base,
        viewport=VIEWPORTS[device],  # type: ignore[arg-type]
        locale="en-US" if language == "en" else "zh-CN",
        is_mobile=device == "phone",
        has_touch=device == "phone",
    )
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    page.goto("/login/")
    page.locator("#id_username").fill("demo")
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("button.button--wide[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, path, english, chinese in PAGES:
        page.goto(path)
        heading = english if language == "en" else chinese
        expect(page.locator("main h1").first).to_have_text(heading)
        assert page.locator("html").get_attribute("lang") == language
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS[device]["width"], (name, device, language, width)
        page.screenshot(path=str(SHOTS / f"{name}-{language}-{device}.png"), full_page=True)
    ctx.close()
