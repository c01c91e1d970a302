"""The automatic replies page in a real browser (SPEC D1, G1; issue 9): the owner types a
welcome text and the live preview follows it in both languages, saves it, and a new buyer who
asks for a human receives that welcome, in the agent's name, when an agent takes the buyer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    browser,
    buyer_page,
    context,
    demo_server,
)
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

WELCOME = "欢迎来到演示小店！我是您的专属客服，请问想了解哪款商品？"


def test_the_owners_welcome_is_previewed_live_saved_and_sent_to_a_new_buyer(
    browser: Browser, demo_server: Server
):
    # Given the demo shop's owner on the automatic replies page
    owner = context(browser, demo_server).new_page()
    owner.goto("/login/")
    owner.get_by_label("Login name").fill("demo")
    owner.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    owner.get_by_role("button", name="Sign in").click()
    expect(owner).to_have_url(re.compile(r"/workbench/$"))
    owner.goto("/admin/replies/")
    expect(owner.get_by_role("heading", level=1)).to_have_text("Automatic replies")
    previews = owner.locator('[data-preview-for="welcome_text"] [data-preview]')
    expect(previews).to_have_count(2)
    # the defaults, in Chinese and in English, while the field is empty
    expect(previews.nth(0)).to_have_text("您好，很高兴为您服务！请问有什么可以帮您？")
    expect(previews.nth(1)).to_have_text("Hello, glad to help you! What can I do for you?")

    # When the owner types a welcome, both previews follow as they type
    field = owner.get_by_label("Welcome text")
    field.fill(WELCOME)
    expect(previews.nth(0)).to_have_text(WELCOME)
    expect(previews.nth(1)).to_have_text(WELCOME)
    # and emptying it brings the default back
    field.fill("")
    expect(previews.nth(1)).to_have_text("Hello, glad to help you! What can I do for you?")
    field.fill(WELCOME)

    # and saves
    owner.get_by_role("button", name="Save").click()
    expect(owner.get_by_text("The automatic replies were saved.")).to_be_visible()
    expect(owner.get_by_label("Welcome text")).to_have_value(WELCOME)
    # this page and its neighbours are usable on a phone: nothing wider than the screen
    owner.set_viewport_size({"width": 390, "height": 800})
    for url in (
        "/admin/replies/",
        "/admin/timeouts/",
        "/admin/private-contacts/",
        "/admin/intents/",
    ):
        owner.goto(url)
        width = owner.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (url, width)

    # Given 小王 put online through the API (a status call counts as presence)
    api = context(browser, demo_server).request
    token = api.post(
        "/api/v1/auth/token/", data={"username": "demo:xiaowang", "password": DEMO_PASSWORD}
    ).json()["token"]
    online = api.post(
        "/api/v1/me/status/",
        data={"status": "online"},
        headers={"Authorization": f"Token {token}"},
    )
    assert online.ok, online.text()

    # When a new buyer asks for a human
    buyer = buyer_page(browser, demo_server)
    buyer.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.locator("[data-state-text]")).to_have_text("An agent is with you.")

    # Then the buyer reads the owner's welcome, in the agent's name (D1)
    welcome = buyer.locator(".bubble--agent", has_text=WELCOME)
    expect(welcome).to_have_count(1)
