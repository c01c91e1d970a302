"""The live board and the metrics page in a real browser over a real server (issue 11, must show
2): a buyer enters the queue and the board's waiting count changes without a reload and without
polling (``monitor.updated`` on ``/ws/monitor/``); an agent without ``view_monitor`` gets the 403
page and a 403 from the API. Screenshots of the board and the metrics page (1440×900, English and
Chinese) go to test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import browser  # the browser fixture
from tests.browser.test_workbench_widget_fixes import Buyer, shop_server, token_of
from tests.realtime.servers import BASE_DIR, Server, http

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shop_server"]

SHOTS = Path(BASE_DIR) / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}


def signed_in(browser: Browser, server: Server, login: str, language: str = "en") -> Page:
    ctx = browser.new_context(
        base_url=server.base,
        viewport=DESKTOP,  # type: ignore[arg-type]
        locale="en-US" if language == "en" else "zh-CN",
    )
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    page.goto("/login/")
    page.locator("#id_username").fill(login)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("button.button--wide[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    return page


def test_the_board_follows_the_queue_live_and_is_closed_to_agents_without_view_monitor(
    browser: Browser, shop_server: Server
):
    # Given 小王 paused (present, taking nobody new: buyers of 售前 wait for it, SPEC C3)
    wang = token_of(shop_server, "demo:xiaowang")
    shop_server.api("POST", "/api/v1/me/status/", {"status": "paused"}, f"Token {wang}")
    # and the owner on the live board
    owner = signed_in(browser, shop_server, "demo")
    asked: list[str] = []

    def count(request: Request) -> None:
        if "/api/v1/monitor/" in request.url:
            asked.append(request.url)

    owner.on("request", count)
    owner.goto("/admin/board/")
    expect(owner.locator("main h1")).to_have_text("Live board")
    expect(owner.locator("[data-connection-text]")).to_have_text("Live")
    waiting = owner.locator('[data-groups] tr[data-group="shop"] td').first
    expect(waiting).to_have_text("0")
    wang_row = owner.locator("[data-agents] tr", has_text="小王")
    expect(wang_row.locator(".status")).to_have_text("Paused")
    owner.evaluate("window.__sameDocument = true")
    read_on_connect = len(asked)

    # When a buyer asks for a human and waits in the queue
    buyer = Buyer(browser, shop_server)
    conversation = buyer.api("POST", "conversation/", {"human": True})
    assert conversation["state"] == "queued"

    # Then the board shows the waiting buyer, without a reload and without polling
    expect(waiting).to_have_text("1")
    expect(owner.locator('[data-groups] tr[data-group="shop"] [data-wait]')).not_to_have_text("—")
    assert owner.evaluate("window.__sameDocument") is True
    expect(owner.locator('[data-stat="conversations"]')).to_have_text("1")
    assert len(asked) == read_on_connect  # the socket's push, not a request of the page

    # When 小王 comes back online, it takes the buyer: the board follows again
    shop_server.api("POST", "/api/v1/me/status/", {"status": "online"}, f"Token {wang}")
    expect(waiting).to_have_text("0")
    expect(wang_row.locator(".load-bar__text")).to_have_text(re.compile(r"^1 / \d+$"))
    expect(wang_row.locator(".status")).to_have_text("Online")
    SHOTS.mkdir(parents=True, exist_ok=True)
    owner.screenshot(path=str(SHOTS / "board-en-desktop.png"), full_page=True)

    # And the metrics page draws its charts and tables for the day
    owner.goto("/admin/metrics/")
    expect(owner.locator("main h1")).to_have_text("Metrics")
    expect(owner.locator("[data-day-table] tbody tr").last).to_contain_text("1")
    owner.wait_for_function("window.Chart && Object.keys(Chart.instances).length >= 3")
    owner.screenshot(path=str(SHOTS / "metrics-en-desktop.png"), full_page=True)

    # And in Chinese
    chinese = signed_in(browser, shop_server, "demo", "zh-hans")
    chinese.goto("/admin/board/")
    assert chinese.locator("html").get_attribute("lang") == "zh-hans"
    expect(chinese.locator("[data-agents] tr", has_text="小王")).to_have_count(1)
    chinese.screenshot(path=str(SHOTS / "board-zh-hans-desktop.png"), full_page=True)
    chinese.goto("/admin/metrics/")
    chinese.wait_for_function("window.Chart && Object.keys(Chart.instances).length >= 3")
    chinese.screenshot(path=str(SHOTS / "metrics-zh-hans-desktop.png"), full_page=True)

    # And 小王, who has no view_monitor, gets the 403 page and a 403 from the API
    agent = signed_in(browser, shop_server, "demo:xiaowang")
    answer = agent.goto("/admin/board/")
    assert answer is not None and answer.status == 403
    expect(agent.locator("main")).to_contain_text("does not have the permission")
    assert agent.goto("/admin/metrics/").status == 403  # type: ignore[union-attr]
    for path in ("/api/v1/monitor/", "/api/v1/metrics/", "/api/v1/metrics/queue/"):
        status, _body = http("GET", shop_server.base + path, auth=f"Token {wang}")
        assert status == 403, path
    # while 小赵, who has it, reads the board
    zhao = token_of(shop_server, "demo:xiaozhao")
    status, board = http("GET", shop_server.base + "/api/v1/monitor/", auth=f"Token {zhao}")
    assert status == 200 and board["groups"][0]["waiting"] == 0
