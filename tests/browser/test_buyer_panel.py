"""The agent's buyer panel, order notes and cards in a real browser over real WebSockets (SPEC
E3-E5, I1, I3; seed 002's assistant panel): the shop's systems push the buyer, its orders, its
visits and an after-sales record through the API; the agent who opens the chat sees them beside
it; a 61-character note is refused with a clear message and the typed text kept; the history
lists the earlier notes newest first; an order card sent into the chat shows as a card on both
the workbench and the buyer's widget. Screenshots of both pages, in English and Chinese, go to
test-artifacts/screenshots/ (git-ignored).

Each test has a demo shop of its own (a uvicorn process, as tests/browser/test_realtime_pages.py
starts it): agents' statuses and conversations outlive a test."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import browser  # the browser fixture
from tests.realtime.servers import (
    BASE_DIR,
    Server,
    clean_env,
    server_database,
    server_redis,
    uvicorn_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser"]

SHOTS = Path(BASE_DIR) / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}
RETURN_ADDRESS = "李店长 13800000000 浙江省杭州市西湖区文三路 100 号 售后部"


@pytest.fixture
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("demo") / "uvicorn.log"
    with server_database() as database, server_redis() as redis_url:
        subprocess.run(
            [sys.executable, "manage.py", "load_demo"],
            cwd=BASE_DIR,
            env={**clean_env(), "DATABASE_URL": database, "REDIS_URL": redis_url},
            check=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        with uvicorn_server(database, redis_url, log) as server:
            yield server


def new_page(browser: Browser, server: Server, language: str, **options: Any) -> Page:
    ctx = browser.new_context(base_url=server.base, locale=LOCALES[language], **options)
    ctx.set_default_timeout(10_000)
    return ctx.new_page()


def agent_online(browser: Browser, server: Server, language: str, login: str) -> Page:
    """``login`` signed in on the workbench (any language), connected and online."""
    page = new_page(browser, server, language, viewport=DESKTOP)
    page.goto("/login/")
    page.locator("#id_username").fill(login)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("button.button--wide[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    expect(page.locator("[data-connection]")).to_have_class(re.compile("connection--connected"))
    page.locator("label[for=status-online]").click()
    expect(page.locator("#status-online")).to_be_checked()
    return page


def buyer_widget(browser: Browser, server: Server, language: str) -> tuple[Page, str]:
    """The demo widget on a phone, and its buyer's external id."""
    page = new_page(browser, server, language, viewport=PHONE, is_mobile=True, has_touch=True)
    with page.expect_response("**/api/v1/widget/session/"):
        page.goto("/demo/widget/")
    buyer_id = page.locator("[data-widget]").get_attribute("data-buyer-id")
    assert buyer_id
    # the session is up: the service assistant greets (SPEC F2)
    expect(page.locator("[data-state-text]")).to_have_text(widget_text(page, "state-assistant"))
    expect(page.locator(".bubble--assistant").first).to_be_visible()
    return page, buyer_id


def widget_text(page: Page, name: str) -> str:
    """One of the widget's strings, in the page's language."""
    return page.locator("[data-widget]").get_attribute(f"data-msg-{name}") or name


def token_of(server: Server, login: str) -> str:
    answer = server.api(
        "POST", "/api/v1/auth/token/", {"username": login, "password": DEMO_PASSWORD}
    )
    return f"Token {answer['token']}"


def push_shop_data(server: Server, auth: str, buyer: str) -> None:
    """What the shop's systems send (API.md, shop data): the buyer, four orders (two paid ones in
    the window, one unpaid, one older than the 30-day window), three visits, an after-sales
    record with its return address and tracking, and two notes on the first order."""
    now = datetime.now(UTC)
    server.api(
        "PUT",
        f"/api/v1/buyers/{buyer}/",
        {"name": "王小明", "segments": ["member:gold", "region:zhejiang"], "channel": "抖音"},
        auth,
    )
    cup = {"product": "p-1001", "name": "保温杯 Thermos cup 500ml", "quantity": 2, "price": "59.50"}
    for number, status, days_ago in [
        ("o-9001", "after_sale", 2),
        ("o-9002", "shipped", 5),
        ("o-9003", "unpaid", 0),
        ("o-8001", "completed", 60),  # outside the shop's recent-orders window (SPEC E3)
    ]:
        created = now - timedelta(days=days_ago, hours=1)
        server.api(
            "PUT",
            f"/api/v1/orders/{number}/",
            {
                "buyer": buyer,
                "status": status,
                "amount": "129",
                "shipping_fee": "10",
                "items": [cup],
                "paid_at": None if status == "unpaid" else created.isoformat(),
                "created_at": created.isoformat(),
            },
            auth,
        )
    for hours_ago in (5, 20, 30):
        at = (now - timedelta(hours=hours_ago)).isoformat()
        server.api("POST", f"/api/v1/buyers/{buyer}/visits/", {"at": at, "page": "/cup"}, auth)
    server.api(
        "PUT",
        "/api/v1/after-sales/as-7001/",
        {
            "order": "o-9001",
            "buyer": buyer,
            "type": "return_refund",
            "status": "等待买家退货",
            "amount": "129",
            "shipping_included": True,
            "refund_method": "原路退款",
            "applied_at": (now - timedelta(days=1)).isoformat(),
            "goods_received": True,
            "reason": "尺寸不合适",
            "description": "杯盖有划痕, 想退货",
            "merchant_note": "已同意退货",
            "items": [cup],
            "return_address": RETURN_ADDRESS,
            "return_tracking": "SF1234567890",
        },
        auth,
    )
    for text, flag in [("先别发货", "red"), ("已和买家确认地址", "green")]:
        server.api("POST", "/api/v1/orders/o-9001/notes/", {"text": text, "flag": flag}, auth)


def chat_opened(agent: Page, buyer: Page) -> None:
    """The buyer asks for a human; the only agent online takes it and opens the chat."""
    buyer.locator("[data-ask-human]").click()
    expect(buyer.locator("[data-state-text]")).to_have_text(widget_text(buyer, "state-active"))
    item = agent.locator("[data-conversation-list] .conv")
    expect(item).to_have_count(1)
    item.click()
    expect(agent.locator("[data-buyer-panel] .buyer-panel__name")).to_have_text("王小明")


def test_buyer_panel_order_notes_and_cards_on_both_pages(browser: Browser, shop_server: Server):
    # Given 小张 (handle_orders, handle_after_sales) online, and a buyer on the widget whose
    # shop pushed its buyer data, orders, visits and an after-sales record (SPEC E3-E5)
    agent = agent_online(browser, shop_server, "en", "demo:xiaozhang")
    buyer, buyer_id = buyer_widget(browser, shop_server, "en")
    push_shop_data(shop_server, token_of(shop_server, "demo"), buyer_id)

    # When the buyer asks for a human and the agent opens the chat
    chat_opened(agent, buyer)
    panel = agent.locator("[data-buyer-panel]")

    # Then the panel shows who it is, where it came from and its figures (E3)
    expect(panel.locator(".buyer-panel__segments li")).to_have_text(
        ["member:gold", "region:zhejiang"]
    )
    expect(panel.locator(".buyer-panel__facts")).to_contain_text("抖音")
    expect(panel.locator(".buyer-panel__entrance dd")).to_have_text("Member centre")
    expect(panel.locator(".buyer-panel__paid dd")).to_have_text("3")  # after_sale, shipped, old
    # three visits pushed and the widget session's start: above 2, highlighted
    visits = panel.locator(".buyer-panel__visits")
    expect(visits.locator("dd")).to_have_text("4")
    expect(visits).to_have_class(re.compile("is-high"))
    # the orders of the last 30 days, newest first, each with its current note (E4)
    orders = panel.locator(".panel-order")
    expect(orders).to_have_count(3)
    expect(panel.locator(".buyer-panel__orders h3")).to_have_text("Orders of the last 30 days")
    first = panel.locator('.panel-order[data-order="o-9001"]')
    expect(first.locator(".chat-card__kind")).to_have_text("Order o-9001")
    expect(first.locator(".chat-card__status")).to_have_text("After-sale")
    expect(first.locator(".order-note__text")).to_have_text("已和买家确认地址")
    expect(first.locator(".order-note")).to_have_attribute("data-flag", "green")
    expect(first.locator(".chat-card__after-sale")).to_have_text(
        "After-sales: Return and refund, 等待买家退货"
    )
    expect(panel.locator('.panel-order[data-order="o-9003"] .order-note')).to_have_text(
        "No note yet."
    )
    expect(panel.locator('.panel-order[data-order="o-8001"]')).to_have_count(0)
    # and the after-sales record with every field of E5, money with 2 decimals
    record = panel.locator('.panel-after-sale[data-after-sale="as-7001"]')
    for text in [
        "After-sales: Return and refund",
        "等待买家退货",
        "as-7001",
        "129.00 (shipping included)",
        "原路退款",
        "Received",
        "尺寸不合适",
        "杯盖有划痕, 想退货",
        "已同意退货",
        "保温杯 Thermos cup 500ml",
        "× 2 · 59.50",
        RETURN_ADDRESS,
        "SF1234567890",
    ]:
        expect(record).to_contain_text(text)
    expect(record.get_by_role("button", name="Copy")).to_be_visible()
    expect(record.get_by_role("button", name="Send to chat")).to_be_visible()

    # When the agent copies the return address (E5)
    agent.context.grant_permissions(["clipboard-read", "clipboard-write"])
    record.get_by_role("button", name="Copy").click()
    expect(record.locator(".chat-card__copied")).to_have_text("Copied.")
    assert agent.evaluate("navigator.clipboard.readText()") == RETURN_ADDRESS

    # When the agent writes a 61-character note on o-9001 (E4)
    first.get_by_role("button", name="Edit note").click()
    note = first.get_by_label("Note for colleagues (at most 60 characters)")
    too_long = ("买家要求周五前发货，请仓库优先处理并备注易碎品，包装加固。" * 3)[:61]
    assert len(too_long) == 61 and too_long == too_long.strip()
    note.fill(too_long)
    expect(first.locator(".note-edit__counter")).to_have_text("61 / 60 characters")
    expect(first.locator(".note-edit__counter")).to_have_class(re.compile("is-over"))
    first.locator("label.flag-picker__option", has_text="Yellow").click()
    first.get_by_role("button", name="Save note").click()

    # Then the server refuses it with a clear message beside the field; the text stays
    feedback = first.locator(".note-edit__feedback")
    expect(feedback).to_contain_text("Not saved:")
    expect(feedback).to_contain_text("60 characters")
    expect(note).to_have_value(too_long)
    expect(first.locator(".order-note__text")).to_have_text("已和买家确认地址")  # unchanged

    # and the history lists the earlier notes, newest first, with their author (E4)
    first.locator(".note-history summary").click()
    history = first.locator(".note-history__item")
    expect(history).to_have_count(2)
    expect(history.locator(".note-history__text")).to_have_text(["已和买家确认地址", "先别发货"])
    expect(history.first).to_have_attribute("data-flag", "green")
    expect(history.first.locator(".note-history__meta")).to_contain_text("演示小店")

    # When the agent shortens it to 60 characters: saved, the current note and the history follow
    note.fill(too_long[:60])
    expect(first.locator(".note-edit__counter")).to_have_text("60 / 60 characters")
    first.get_by_role("button", name="Save note").click()
    expect(feedback).to_have_text("Note saved.")
    expect(first.locator(".order-note__text")).to_have_text(too_long[:60])
    expect(first.locator(".order-note")).to_have_attribute("data-flag", "yellow")
    expect(history).to_have_count(3)
    expect(history.first.locator(".note-history__meta")).to_contain_text("小张")

    # When the agent sends the order card into the chat (E4)
    first.get_by_role("button", name="Send to chat").click()

    # Then it shows as a card on the workbench, with the order's after-sales status
    card = agent.locator("[data-chat-messages] .bubble--card .chat-card--order")
    expect(card.locator(".chat-card__kind")).to_have_text("Order o-9001")
    expect(card.locator(".chat-card__after-sale")).to_have_text(
        "After-sales: Return and refund, 等待买家退货"
    )
    expect(card).to_contain_text("129.00 (shipping 10.00)")
    # and on the buyer's widget, without the staff's note
    widget_card = buyer.locator(".bubble--card .chat-card--order")
    expect(widget_card.locator(".chat-card__kind")).to_have_text("Order o-9001")
    expect(widget_card.locator(".chat-card__status")).to_have_text("After-sale")
    expect(widget_card.locator(".chat-card__after-sale")).to_have_text(
        "After-sales: Return and refund, 等待买家退货"
    )
    expect(buyer.locator(".bubble--card")).not_to_contain_text("买家要求")

    # And the after-sales card too (handle_after_sales), with its copy button on the widget
    record.get_by_role("button", name="Send to chat").click()
    widget_after_sale = buyer.locator(".bubble--card .chat-card--after-sale")
    expect(widget_after_sale).to_contain_text("129.00 (shipping included)")
    expect(widget_after_sale).to_contain_text(RETURN_ADDRESS)
    expect(widget_after_sale.get_by_role("button", name="Copy")).to_be_visible()
    expect(agent.locator("[data-chat-messages] .chat-card--after-sale")).to_be_visible()

    # When the agent writes an internal note (I3): staff only, shown with the notes
    agent.get_by_text("Add an internal note").click()
    agent.get_by_label("Internal note (staff only, never shown to the buyer)").fill("买家很急")
    agent.get_by_role("button", name="Add note").click()
    expect(agent.locator("[data-chat-notes-list] .internal-note__body")).to_have_text(["买家很急"])
    expect(buyer.locator("[data-messages]")).not_to_contain_text("买家很急")

    # And on a phone the panel hides behind the "Buyer" toggle
    agent.set_viewport_size(PHONE)
    expect(panel).to_be_hidden()
    agent.locator("[data-buyer-toggle]").click()
    expect(panel).to_be_visible()
    expect(agent.locator("[data-buyer-toggle]")).to_have_attribute("aria-expanded", "true")
    width = agent.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    agent.set_viewport_size(DESKTOP)
    expect(agent.locator("[data-buyer-toggle]")).to_be_hidden()
    expect(panel).to_be_visible()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_screenshots_of_the_panel_and_a_card_in_both_languages(
    browser: Browser, shop_server: Server, language: str
):
    # Given the buyer and its data, the chat open on the workbench, the order card sent
    agent = agent_online(browser, shop_server, language, "demo:xiaozhang")
    buyer, buyer_id = buyer_widget(browser, shop_server, language)
    push_shop_data(shop_server, token_of(shop_server, "demo"), buyer_id)
    chat_opened(agent, buyer)
    panel = agent.locator("[data-buyer-panel]")
    first = panel.locator('.panel-order[data-order="o-9001"]')
    first.locator("[data-send-card=order_card]").click()
    expect(buyer.locator(".bubble--card .chat-card--order")).to_be_visible()
    expect(agent.locator("[data-chat-messages] .bubble--card")).to_be_visible()

    # Then both pages speak the language and fit their screens
    for page, size in [(agent, DESKTOP), (buyer, PHONE)]:
        assert page.locator("html").get_attribute("lang") == language
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], (language, width)
    # the panel is a third column beside the chat on a desktop
    chat_box = agent.locator("[data-chat]").bounding_box()
    panel_box = panel.bounding_box()
    assert chat_box and panel_box
    assert panel_box["x"] >= chat_box["x"] + chat_box["width"]
    assert panel_box["x"] + panel_box["width"] <= DESKTOP["width"]

    SHOTS.mkdir(parents=True, exist_ok=True)
    agent.evaluate("window.scrollTo(0, 0)")
    agent.screenshot(path=str(SHOTS / f"buyer-panel-{language}-desktop.png"))
    buyer.locator(".bubble--card").last.scroll_into_view_if_needed()
    buyer.screenshot(path=str(SHOTS / f"widget-card-{language}-phone.png"))
