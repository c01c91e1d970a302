"""SPEC I6 in a real browser over real WebSockets: the main account adds a sensitive word with
``mask`` on the safety page, a buyer writes it in the widget, and the agent's workbench shows it
masked (so does the buyer's own bubble once the server answers: the stored text is masked).
The agent (小王, chat only) also reads the buyer's phone number masked, which the main account,
who holds ``view_buyer_info``, reads whole. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_buyer_panel import (
    DESKTOP,
    SHOTS,
    agent_online,
    buyer_widget,
    new_page,
    shop_server,
    token_of,
    widget_text,
)
from tests.browser.test_realtime_pages import browser  # the browser fixture
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shop_server"]


def test_a_masked_word_reaches_the_agent_as_asterisks(browser: Browser, shop_server: Server):
    # Given the main account, on the safety page, adds 微信 to be masked
    settings = new_page(browser, shop_server, "en", viewport=DESKTOP)
    settings.goto("/login/")
    settings.locator("#id_username").fill("demo")
    settings.locator("#id_password").fill(DEMO_PASSWORD)
    settings.locator("button.button--wide[type=submit]").click()
    expect(settings).to_have_url(re.compile(r"/workbench/$"))
    settings.goto("/admin/safety/")
    expect(settings.get_by_role("heading", name="Safety", exact=True)).to_be_visible()
    settings.get_by_label("Word", exact=True).fill("微信")
    settings.get_by_label("When a message contains it").select_option("mask")
    settings.get_by_role("button", name="Add the word").click()
    expect(settings.locator('[data-sensitive-word="微信"]')).to_contain_text(
        "Mask it with asterisks"
    )
    settings.screenshot(path=str(SHOTS / "safety-en-desktop.png"), full_page=True)
    settings.goto("/admin/")  # its workbench socket closes; the main account stays offline

    # And 小王 (chat only) online on the workbench
    agent = agent_online(browser, shop_server, "en", "demo:xiaowang")

    # When a buyer asks for a human and writes the word and a phone number in the widget
    buyer, _buyer_id = buyer_widget(browser, shop_server, "en")
    buyer.locator("[data-ask-human]").click()
    expect(buyer.locator("[data-state-text]")).to_have_text(widget_text(buyer, "state-active"))
    item = agent.locator("[data-conversation-list] .conv")
    expect(item).to_have_count(1)
    item.click()
    buyer.get_by_label("Your message").fill("加我微信吧, 电话 13812345678")
    buyer.get_by_role("button", name="Send").click()

    # Then the agent's workbench shows the word as asterisks and the phone number masked
    bubble = agent.locator("[data-chat-messages] .bubble--buyer p")
    expect(bubble).to_have_text("加我**吧, 电话 138****5678")
    # and the buyer's own bubble has the stored text: the word masked, its number whole
    expect(buyer.locator(".bubble--mine p").last).to_have_text("加我**吧, 电话 13812345678")
    agent.screenshot(path=str(SHOTS / "safety-masked-en-workbench.png"), full_page=True)

    # When the shop blocks the buyer (API.md, Safety)
    main = token_of(shop_server, "demo")
    external_id = buyer.locator("[data-widget]").get_attribute("data-buyer-id")
    shop_server.api(
        "POST", "/api/v1/blocked-buyers/", {"buyer": external_id, "reason": "spam"}, main
    )
    # Then the buyer's widget says so and takes no more messages
    refusal = "This shop's customer service is not available to you."
    expect(buyer.locator("[data-state-text]")).to_have_text(refusal)
    expect(buyer.get_by_role("button", name="Send")).to_be_disabled()
    # and the agent's buyer panel shows the block (小王 may not unblock: no button)
    agent.locator("[data-buyer-panel-refresh]").click()
    block = agent.locator("[data-buyer-block]")
    expect(block).to_contain_text("This buyer is blocked")
    expect(block).to_contain_text("Reason: spam")
    expect(block.get_by_role("button")).to_have_count(0)
