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
    ("safety", "/admin/safety/", "Safety", "安全设置"),  # SPEC I6
    ("history", "/history/", "History", "历史记录"),
    # issue 11: the live board, the metrics, their targets and the staffing forecast
    ("board", "/admin/board/", "Live board", "实时看板"),
    ("metrics", "/admin/metrics/", "Metrics", "数据指标"),
    ("targets", "/admin/targets/", "Targets", "考核目标"),
    ("forecast", "/admin/forecast/", "Staffing forecast", "排班预测"),
    # issue 12: API keys and webhooks, the audit log
    ("integrations", "/admin/integrations/", "Integrations", "集成"),
    ("audit", "/admin/audit/", "Audit log", "操作日志"),
]


def detail_pages(server: Server) -> list[tuple[str, str, str, str]]:
    """The pages of one object (an agent, a group, a reply, an intent) of the demo shop, read
    (or, for the intent the demo lacks, made) through the API."""
    token = server.api(
        "POST", "/api/v1/auth/token/", {"username": "demo", "password": DEMO_PASSWORD}
    )
    auth = f"Token {token['token']}"
    agents = server.api("GET", "/api/v1/accounts/", None, auth)["results"]
    agent = next(a for a in agents if a["username"] == "demo:xiaowang")
    group = next(g for g in server.api("GET", "/api/v1/groups/", None, auth)["results"])
    reply = server.api("GET", "/api/v1/quick-replies/", None, auth)["results"][0]
    intents = server.api("GET", "/api/v1/intent-rules/", None, auth)["results"]
    intent = (
        intents[0]
        if intents
        else server.api(
            "POST", "/api/v1/intent-rules/", {"name": "退货", "keywords": ["退货", "退款"]}, auth
        )
    )
    login, name = agent["username"], group["name"]
    return [
        ("account-edit", f"/admin/accounts/{agent['id']}/", f"小王 {login}", f"小王 {login}"),
        (
            "account-password",
            f"/admin/accounts/{agent['id']}/password/",
            f"New password for {login}",
            f"为 {login} 设置新密码",
        ),
        (
            "account-delete",
            f"/admin/accounts/{agent['id']}/delete/",
            f"Delete {login}?",
            f"删除 {login}？",
        ),
        ("group-edit", f"/admin/groups/{group['id']}/", f"Group {name}", f"分组 {name}"),
        (
            "group-delete",
            f"/admin/groups/{group['id']}/delete/",
            f"Delete the group {name}?",
            f"删除分组 {name}？",
        ),
        (
            "quick-reply-edit",
            f"/admin/quick-replies/{reply['id']}/",
            "Edit quick reply",
            "编辑快捷回复",
        ),
        ("intent-edit", f"/admin/intents/{intent['id']}/", "Edit intent", "编辑意图"),
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
    for name, path, english, chinese in PAGES + detail_pages(demo_server):
        page.goto(path)
        heading = english if language == "en" else chinese
        expect(page.locator("main h1").first).to_have_text(heading)
        assert page.locator("html").get_attribute("lang") == language
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS[device]["width"], (name, device, language, width)
        page.screenshot(path=str(SHOTS / f"{name}-{language}-{device}.png"), full_page=True)
    ctx.close()
