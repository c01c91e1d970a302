"""Supervision in a real browser over real WebSockets (SPEC I3, amended decision): the shop owner
watches 小王's conversation from the workbench's Supervise panel, reads the buyer's new message
live without a reload, leaves an internal note that reaches 小王 at once, then takes the
conversation over and answers the buyer, whose widget shows the answer. A screenshot of the
watching view goes to test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_realtime_pages import (  # the browser fixture and the page helpers
    browser,
    context,
    online_on_the_workbench,
    sign_in,
)
from tests.browser.test_workbench_widget_fixes import Buyer, shop_server
from tests.realtime.servers import BASE_DIR, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shop_server"]

SHOTS = Path(BASE_DIR) / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
MARKUP = '<img src=x onerror="window.__xss=1">还在吗?'


def test_the_owner_watches_a_chat_live_then_takes_it_over_and_answers(
    browser: Browser, shop_server: Server
):
    # Given 小王 online with a buyer who asked a question
    agent = context(browser, shop_server, viewport=DESKTOP).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = Buyer(browser, shop_server)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    buyer.write("这个杯子有货吗?")
    # (this buyer's conversation by name: Redis pub/sub ignores database numbers, so a socket
    # may also hear another test server's events for an account of the same id)
    who = buyer.api("GET", "conversation/")["buyer"]
    name = who["name"] or who["external_id"]
    mine = agent.locator("[data-conversation-list] .conv", has_text=name)
    mine.click()
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text("这个杯子有货吗?")

    # and the shop owner on the workbench, paused (there for its buyers, given no new ones)
    owner = context(browser, shop_server, viewport=DESKTOP).new_page()
    sign_in(owner, "demo")
    expect(owner.locator("[data-connection-text]")).to_have_text("Connected")
    owner.locator("label[for=status-paused]").click()
    expect(owner.locator("#status-paused")).to_be_checked()
    expect(owner.locator("#status-paused")).to_be_enabled()

    # Then the Supervise panel lists the live conversation with its agent and last message
    panel = owner.locator("[data-supervise]")
    row = panel.locator(".supervise__item")
    expect(row).to_have_count(1)
    expect(row.locator(".supervise__meta")).to_have_text("Agent: 小王")
    expect(row.locator(".supervise__preview")).to_have_text("这个杯子有货吗?")
    expect(row.locator(".supervise__since")).to_contain_text("Buyer waiting")

    # When the owner watches it
    row.get_by_role("button", name="Watch").click()

    # Then the chat opens read-only, with whose it is, and no reply box
    chat = owner.locator("[data-chat]")
    expect(owner.locator("[data-watch-banner-title]")).to_have_text("Watching — 小王")
    expect(chat.locator("[data-chat-messages] .bubble--buyer p")).to_have_text("这个杯子有货吗?")
    expect(owner.get_by_label("Your reply")).to_be_hidden()
    expect(owner.locator("[data-chat-end]")).to_be_hidden()
    expect(owner.get_by_role("button", name="Stop watching")).to_be_visible()

    # When the buyer writes again and 小王 answers
    buyer.write(MARKUP)
    agent.get_by_label("Your reply").fill("有的")
    agent.get_by_label("Your reply").press("Enter")

    # Then the owner sees both live, without a reload (markup stays text)
    expect(chat.locator("[data-chat-messages] .bubble--buyer p").last).to_have_text(MARKUP)
    expect(chat.locator("[data-chat-messages] .bubble--agent p").last).to_have_text("有的")
    # and the list follows: the last message, the buyer no longer waiting
    expect(row.locator(".supervise__preview")).to_have_text("有的")
    expect(row.locator(".supervise__since")).to_contain_text("Started")

    # And a note the owner adds reaches 小王's chat at once, never the buyer
    owner.get_by_text("Add an internal note").click()
    owner.get_by_label("Internal note (staff only, never shown to the buyer)").fill(
        "老客户, 送优惠券"
    )
    owner.get_by_role("button", name="Add note").click()
    expect(agent.locator("[data-chat-notes-list] .internal-note__body")).to_have_text(
        ["老客户, 送优惠券"]
    )
    expect(buyer.page.locator("[data-messages]")).not_to_contain_text("优惠券")

    SHOTS.mkdir(parents=True, exist_ok=True)
    owner.screenshot(path=str(SHOTS / "supervise-watching-en-desktop.png"), full_page=True)

    # When the owner takes it over (asked first)
    owner.get_by_role("button", name="Take over").click()
    dialog = owner.locator("[data-take-over-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("小王 no longer holds it")
    expect(dialog.get_by_role("button", name="Keep watching")).to_be_focused()
    dialog.get_by_role("button", name="Take over").click()

    # Then it is the owner's own conversation, with a reply box, and 小王 is told
    expect(owner.locator("[data-watch-banner]")).to_be_hidden()
    expect(owner.get_by_label("Your reply")).to_be_visible()
    expect(owner.get_by_label("Your reply")).to_be_enabled()
    expect(owner.locator("[data-conversation-list] .conv", has_text=name)).to_have_count(1)
    expect(agent.locator("[data-chat-closed]")).to_have_text(
        "This conversation is no longer yours."
    )
    expect(mine).to_have_count(0)

    # When the owner answers
    owner.get_by_label("Your reply").fill("我是店长, 这单我来处理")
    owner.get_by_label("Your reply").press("Enter")

    # Then the buyer's widget shows the answer, after the transfer notice
    expect(buyer.page.locator(".bubble--agent p").last).to_have_text("我是店长, 这单我来处理")
    expect(buyer.page.locator(".bubble--system p").last).to_contain_text("转接")
    expect(buyer.page.locator("[data-messages]")).not_to_contain_text("Taken over")
    assert buyer.api("GET", "conversation/")["state"] == "active"
    # and the panel offers to open, not to watch, what the owner holds now
    expect(panel.locator(".supervise__item button")).to_have_text("Open chat")
    assert owner.evaluate("window.__xss") is None
