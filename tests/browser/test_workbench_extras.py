"""Workbench extras in a real browser over real WebSockets: staff messages between a sub-account
and the main account (seed 001, never routed), the main account assigning a pooled conversation
to an online agent (SPEC B11, seed 000's 留言管理池再分配), the installable workbench (seed 002:
manifest, icons, a service worker scoped to /workbench/) and ending without the dialog when the
shop turned the confirmation off (amended decision).

Each test has a demo shop of its own (tests/browser/test_workbench_widget_fixes.py)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_realtime_pages import (  # the browser fixture and the page helpers
    browser,
    context,
    online_on_the_workbench,
    sign_in,
)
from tests.browser.test_workbench_widget_fixes import Buyer, shop_server, token_of
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shop_server"]


def test_a_sub_account_writes_to_the_owner_and_the_reply_comes_back_live(
    browser: Browser, shop_server: Server
):
    # Given 小王 and the shop owner on their workbenches
    agent = context(browser, shop_server).new_page()
    sign_in(agent, "demo:xiaowang")
    expect(agent.locator("[data-connection-text]")).to_have_text("Connected")
    owner = context(browser, shop_server).new_page()
    sign_in(owner, "demo")
    expect(owner.locator("[data-connection-text]")).to_have_text("Connected")
    agent_panel = agent.locator("[data-staff-messages]")
    owner_panel = owner.locator("[data-staff-messages]")
    expect(agent_panel.get_by_role("heading")).to_have_text("Message the shop owner")
    expect(owner_panel.get_by_role("heading")).to_have_text("Message a colleague")

    # When 小王 writes to the owner (markup stays text)
    agent_panel.get_by_label("Your message").fill("老板, 杯子库存不够了 <b>急</b>")
    agent_panel.get_by_role("button", name="Send").click()
    expect(agent_panel.locator(".staff-message__body")).to_have_text(
        "老板, 杯子库存不够了 <b>急</b>"
    )

    # Then it reaches the owner's workbench live, with 小王 chosen as the colleague
    expect(owner_panel.locator(".staff-message__body")).to_have_text(
        "老板, 杯子库存不够了 <b>急</b>"
    )
    expect(owner_panel.locator("[data-staff-to] option:checked")).to_contain_text("demo:xiaowang")
    expect(owner_panel.locator("[data-staff-unread]")).to_have_text("1")

    # When the owner answers (Enter sends)
    owner_panel.get_by_label("Your message").fill("好的, 我来补货")
    owner_panel.get_by_label("Your message").press("Enter")

    # Then 小王 reads the answer live, newest at the bottom, and nobody's chat list changed
    expect(agent_panel.locator(".staff-message__body")).to_have_text(
        ["老板, 杯子库存不够了 <b>急</b>", "好的, 我来补货"]
    )
    expect(owner_panel.locator(".staff-message__body")).to_have_count(2)
    expect(agent.locator("[data-conversation-list] .conv")).to_have_count(0)
    assert agent.evaluate("window.__xss") is None


def test_the_owner_assigns_a_pooled_conversation_to_an_online_agent(
    browser: Browser, shop_server: Server
):
    # Given a shop that pools conversations and hands nothing out by itself, a buyer's message
    # in the pool, then 小王 online
    owner_token = f"Token {token_of(shop_server, 'demo')}"
    shop_server.api(
        "PATCH",
        "/api/v1/settings/",
        {"offline_handling": "pool", "pool_auto_assign": False},
        owner_token,
    )
    buyer = Buyer(browser, shop_server)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_contain_text("Leave your message")
    buyer.write("晚上有人吗?")
    expect(buyer.page.locator(".bubble--mine:not(.is-pending) p").last).to_have_text("晚上有人吗?")
    agent = context(browser, shop_server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")

    # When the owner opens "Assign to…" on the pooled conversation
    owner = context(browser, shop_server).new_page()
    sign_in(owner, "demo")
    pool = owner.locator("[data-pool]")
    expect(pool.locator(".pool__item")).to_have_count(1)
    pool.get_by_role("button", name="Assign to…").click()

    # Then only the colleagues online are offered
    select = pool.get_by_label("Assign to", exact=True)
    expect(select.locator("option", has_text="(demo:xiaowang)")).to_have_count(1)
    expect(select.locator("option", has_text="(demo:xiaoli)")).to_have_count(0)

    # When the owner assigns it to 小王
    select.select_option(label="小王 (demo:xiaowang)")
    pool.get_by_role("button", name="Assign", exact=True).click()

    # Then the pool is empty, the owner is told, and 小王 has the buyer with the message
    expect(pool.locator("[data-pool-feedback]")).to_have_text("Assigned to 小王.")
    expect(pool.locator(".pool__item")).to_have_count(0)
    agent.locator("[data-conversation-list] .conv").click()
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text("晚上有人吗?")
    assert buyer.api("GET", "conversation/")["state"] == "active"


def test_the_workbench_is_installable(browser: Browser, shop_server: Server):
    # Given an agent on the workbench
    agent = context(browser, shop_server).new_page()
    sign_in(agent, "demo:xiaowang")

    # Then the page links a valid manifest whose icons answer
    href = agent.locator('link[rel="manifest"]').get_attribute("href")
    assert href
    manifest = agent.request.get(href)
    assert manifest.ok
    data = json.loads(manifest.text())
    assert (data["name"], data["start_url"], data["display"]) == (
        "Shop helpdesk",
        "/workbench/",
        "standalone",
    )
    assert agent.locator('meta[name="theme-color"]').get_attribute("content") == data["theme_color"]
    sizes = set()
    for icon in data["icons"]:
        answer = agent.request.get(icon["src"])
        assert answer.ok and answer.headers["content-type"] == "image/png", icon
        sizes.add(icon["sizes"])
    assert sizes == {"192x192", "512x512"}

    # And the service worker's URL answers JavaScript, and it is registered for /workbench/
    worker = agent.request.get("/workbench/sw.js")
    assert worker.ok
    assert worker.headers["content-type"].startswith("text/javascript")
    scope = agent.evaluate(
        """() => Promise.race([
             navigator.serviceWorker.ready.then((r) => r.scope),
             new Promise((resolve) => setTimeout(() => resolve("timeout"), 8000)),
           ])"""
    )
    assert scope == shop_server.base + "/workbench/"


def test_end_without_the_dialog_when_the_shop_turned_it_off(browser: Browser, shop_server: Server):
    # Given a shop whose agents end conversations without confirming, and 小王 with a buyer
    owner_token = f"Token {token_of(shop_server, 'demo')}"
    answer = shop_server.api("PATCH", "/api/v1/settings/", {"confirm_end": False}, owner_token)
    assert answer["confirm_end"] is False
    agent = context(browser, shop_server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = Buyer(browser, shop_server)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    agent.locator("[data-conversation-list] .conv").click()

    # When 小王 clicks End
    agent.locator("[data-chat-end]").click()

    # Then the conversation ends with no dialog
    expect(agent.locator("[data-chat-closed]")).to_have_text("This conversation has ended.")
    expect(agent.locator("[data-end-dialog]")).not_to_be_visible()
    assert buyer.api("GET", "conversation/")["state"] == "closed"
