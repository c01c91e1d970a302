"""The buyer widget's additions (static/js/widget_extras.js, static/js/embed.js) in a real
browser over real WebSockets: seed 002's "choose your question" menu of the shop's intents, which
asks for a human with the chosen intent and is absent when the shop turns it off; seed 004's
queue-mode line; SPEC I1's entrance product card; SPEC I2's unread badge on embed.js's launcher
for agent messages that arrive while the widget is closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    browser,
    buyer_page,
    context,
    demo_server,
    online_on_the_workbench,
)
from tests.browser.test_widget_embed import shop_site, snippet
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]


def staff_auth(server: Server, login: str = "demo") -> str:
    answer = server.api(
        "POST", "/api/v1/auth/token/", {"username": login, "password": DEMO_PASSWORD}
    )
    return f"Token {answer['token']}"


def an_intent(server: Server, auth: str, name: str, keywords: list[str]) -> dict[str, Any]:
    listed = server.api("GET", "/api/v1/intent-rules/", None, auth)["results"]
    for intent in listed:
        if intent["name"] == name:
            return dict(intent)
    made = server.api("POST", "/api/v1/intent-rules/", {"name": name, "keywords": keywords}, auth)
    return dict(made)


def test_the_question_menu_asks_for_a_human_with_the_chosen_intent_and_can_be_off(
    browser: Browser, demo_server: Server
):
    auth = staff_auth(demo_server)
    # Given the shop has intents, its menu on and its queue on for the whole shop (seed 004)
    an_intent(demo_server, auth, "退货", ["退货", "退款"])
    an_intent(demo_server, auth, "发票", ["发票"])
    demo_server.api(
        "PATCH", "/api/v1/settings/", {"intent_menu_enabled": True, "queue_mode": "shop"}, auth
    )
    names = [
        i["name"] for i in demo_server.api("GET", "/api/v1/intent-rules/", None, auth)["results"]
    ]

    # When a buyer opens the widget
    page = buyer_page(browser, demo_server)
    menu = page.locator("[data-intent-menu]")
    # Then the menu lists the shop's intents, before the human button, which stays
    expect(menu).to_be_visible()
    expect(menu.locator("[data-intent-prompt]")).to_have_text("Choose your question:")
    expect(menu.locator("button")).to_have_text(names)
    expect(page.get_by_role("button", name="Talk to a human agent")).to_be_visible()
    order = page.evaluate(
        """() => {
             const m = document.querySelector("[data-intent-menu]");
             const h = document.querySelector("[data-ask-human]");
             return !!(m.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING);
           }"""
    )
    assert order
    # and the queue-mode line tells that the shop queues when busy
    expect(page.locator("[data-queue-mode]")).to_have_text(
        "When all agents are busy, this shop puts you in a queue."
    )

    # When the buyer chooses 退货
    menu.get_by_role("button", name="退货").click()
    # Then it has asked for a human: the menu is gone (queued, offline message or with an agent)
    expect(page.get_by_role("button", name="Talk to a human agent")).to_be_hidden()
    expect(menu).to_be_hidden()
    conversation = page.evaluate("() => window.WidgetChat.conversation()")
    assert conversation["human_requested_at"]
    # and the staff API sees the chosen intent on that conversation
    staff = demo_server.api("GET", f"/api/v1/conversations/{conversation['id']}/", None, auth)
    assert staff["intent"] == "退货"

    # When the shop turns the menu off
    demo_server.api("PATCH", "/api/v1/settings/", {"intent_menu_enabled": False}, auth)
    other = context(browser, demo_server).new_page()
    with other.expect_response("**/api/v1/widget/intents/") as answer:
        other.goto("/demo/widget/")
    assert answer.value.json()["enabled"] is False
    expect(other.get_by_role("button", name="Talk to a human agent")).to_be_visible()
    # Then a new buyer sees no menu, and the human button alone
    expect(other.locator("[data-intent-menu]")).to_be_hidden()
    expect(other.locator("[data-intent-menu] button")).to_have_count(0)
    expect(other.locator("[data-queue-mode]")).to_be_visible()

    # When the queue is off, no queue-mode line
    demo_server.api("PATCH", "/api/v1/settings/", {"queue_mode": "off"}, auth)
    third = context(browser, demo_server).new_page()
    with third.expect_response("**/api/v1/widget/intents/"):
        third.goto("/demo/widget/")
    expect(third.get_by_role("button", name="Talk to a human agent")).to_be_visible()
    expect(third.locator("[data-queue-mode]")).to_be_hidden()
    demo_server.api(
        "PATCH", "/api/v1/settings/", {"intent_menu_enabled": True, "queue_mode": "shop"}, auth
    )


def test_the_launcher_counts_agent_messages_while_the_widget_is_closed(
    browser: Browser, demo_server: Server, tmp_path: Path
):
    auth = staff_auth(demo_server)
    secret = demo_server.api("GET", "/api/v1/settings/", None, auth)["widget_secret"]
    html = snippet(demo_server, secret).replace(
        'data-product="p-1001"', 'data-product="p-1001" data-product-name="保温杯 500ml"'
    )
    with shop_site(tmp_path, html) as site:
        demo_server.api("PATCH", "/api/v1/settings/", {"widget_origins": [site]}, auth)
        # Given 小王 online on the workbench
        agent = context(browser, demo_server).new_page()
        online_on_the_workbench(agent, "demo:xiaowang")

        # When the buyer on the shop's product page opens the widget and asks for a human
        page = context(browser, demo_server).new_page()
        page.goto(site + "/")
        page.get_by_role("button", name="Chat with us").click()
        widget = page.frame_locator("iframe[data-helpdesk-widget]")
        # the entrance product shows as a card at the top, with the name the page gave
        expect(widget.locator("[data-entrance-product-name]")).to_have_text("保温杯 500ml")
        expect(widget.locator("[data-entrance-product]")).to_contain_text(
            "You came from this product"
        )
        widget.get_by_role("button", name="Talk to a human agent").click()
        expect(widget.locator("[data-state-text]")).to_have_text("An agent is with you.")
        expect(widget.locator("[data-queue-mode]")).to_be_hidden()
        conversation = (
            page.frame_locator("iframe[data-helpdesk-widget]")
            .locator("[data-widget]")
            .evaluate("() => window.WidgetChat.conversation()")
        )
        launcher = page.locator("[data-helpdesk-launcher]")
        badge = page.locator("[data-helpdesk-unread]")
        expect(badge).to_have_count(0)

        # When the buyer closes the widget and the agent writes twice
        launcher.click()
        expect(page.locator("iframe[data-helpdesk-widget]")).to_be_hidden()
        xiaowang = staff_auth(demo_server, "demo:xiaowang")
        path = f"/api/v1/conversations/{conversation['id']}/messages/"
        demo_server.api("POST", path, {"body": "您好, 有货的"}, xiaowang)
        # Then the launcher shows one unread message, then two
        expect(badge).to_have_text("1")
        demo_server.api("POST", path, {"body": "今天下单明天发货"}, xiaowang)
        expect(badge).to_have_text("2")
        expect(launcher).to_contain_text("Chat with us")

        # When the buyer opens the widget again, the badge goes and the messages are there
        launcher.click()
        expect(badge).to_have_count(0)
        expect(widget.locator(".bubble--agent p").last).to_have_text("今天下单明天发货")
        # and a message while it is open raises no badge
        demo_server.api("POST", path, {"body": "还有别的问题吗?"}, xiaowang)
        expect(widget.locator(".bubble--agent p").last).to_have_text("还有别的问题吗?")
        expect(badge).to_have_count(0)
