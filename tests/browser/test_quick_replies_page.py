"""Quick replies in the agent's workbench, in a real browser (SPEC D7; issue 9, must show 2): a
buyer's message with a keyword puts the matching reply first without a reload, "/" opens the
panel, and choosing a reply puts its text in the reply box without sending it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    browser,
    buyer_page,
    context,
    demo_server,
    online_on_the_workbench,
)
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

SHIPPING = "您的订单已发货，物流单号可在订单详情中查看。"
AFTER_SALES = "收到商品 7 天内可无理由退换，请在订单页申请售后。"


def test_a_keyword_in_the_buyers_message_brings_its_quick_reply_first(
    browser: Browser, demo_server: Server
):
    # Given 小王 online on the workbench and a buyer he serves, the conversation open
    agent = context(browser, demo_server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = buyer_page(browser, demo_server)
    buyer.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.locator("[data-state-text]")).to_have_text("An agent is with you.")
    item = agent.locator("[data-conversation-list] .conv")
    expect(item).to_have_count(1)
    item.click()
    expect(agent.locator("[data-quick-suggested]")).to_be_hidden()

    # When the buyer asks about delivery (keywords 快递, 发货 of the shop's shipping reply)
    buyer.get_by_label("Your message").fill("我的快递什么时候发货？")
    buyer.get_by_role("button", name="Send").click()

    # Then, without a reload, the shipping reply is the first suggestion
    suggestions = agent.locator("[data-quick-suggested-list] button")
    expect(suggestions.first).to_have_text(SHIPPING)
    expect(agent.locator("[data-chat-messages] .bubble--buyer p").last).to_have_text(
        "我的快递什么时候发货？"
    )

    # When the agent types "/" in the empty reply box, the panel opens, the match first
    reply_box = agent.get_by_label("Your reply")
    reply_box.click()
    reply_box.press("/")
    panel = agent.locator("[data-quick-panel]")
    expect(panel).to_be_visible()
    expect(agent.get_by_label("Search quick replies")).to_be_focused()
    entries = agent.locator("[data-quick-list] button")
    expect(entries.first.locator(".quick-replies__text")).to_have_text(SHIPPING)
    expect(entries.first).to_contain_text("Suggested")
    expect(entries).to_have_count(4)  # every reply of the shop is there, the others after

    # and the search narrows the list to what matches
    agent.get_by_label("Search quick replies").fill("退货")
    expect(entries).to_have_count(1)
    expect(entries.first.locator(".quick-replies__text")).to_have_text(AFTER_SALES)
    agent.get_by_label("Search quick replies").fill("")
    expect(entries).to_have_count(4)

    # When the agent chooses the shipping reply, its text is in the reply box, not sent
    sent_before = agent.locator("[data-chat-messages] .bubble--mine").count()
    entries.first.click()
    expect(panel).to_be_hidden()
    expect(reply_box).to_have_value(SHIPPING)
    expect(reply_box).to_be_focused()
    expect(agent.locator("[data-chat-messages] .bubble--mine")).to_have_count(sent_before)

    # and the button opens the panel too; Escape closes it without ending the chat
    agent.get_by_role("button", name=re.compile("^Quick replies")).click()
    expect(panel).to_be_visible()
    agent.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(agent.locator("[data-chat-closed]")).to_be_hidden()

    # Sending it is the agent's choice: Enter sends the text as it stands
    reply_box.press("Enter")
    expect(buyer.locator(".bubble--agent p").last).to_have_text(SHIPPING)
