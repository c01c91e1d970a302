"""The routing and business hours pages in a real browser against a real server (SPEC B5, C4,
D2, G1; issue 9, must show 1, parts two and three): the owner changes the assignment rule and
the queue order and the settings API agrees, the page shows the new routing order; the owner
closes the shop today with an exception, and a buyer who then asks for a human gets the
off-hours reply. The server runs with the real clock: "today" is the shop's (Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from apps.automation import texts
from apps.shops.models import ShopSettings
from apps.web.demo import DEMO_PASSWORD, DEMO_SLUG
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    PHONE,
    browser,
    demo_server,
    signed_in_owner,
)
from tests.realtime.servers import Server
from tests.support.widget import signature as buyer_signature

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

SHOP_ZONE = ZoneInfo("Asia/Shanghai")  # the demo shop's time zone (SPEC A1 default)


def main_token(server: Server) -> str:
    answer = server.api(
        "POST", "/api/v1/auth/token/", {"username": DEMO_SLUG, "password": DEMO_PASSWORD}
    )
    return f"Token {answer['token']}"


def no_horizontal_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def buyer_asks_for_a_human(server: Server, staff: str, buyer_id: str) -> list[dict[str, Any]]:
    """Through the widget API: a session, a request for a human, the conversation's messages."""
    secret = server.api("GET", "/api/v1/settings/", auth=staff)["widget_secret"]
    signature = buyer_signature(secret, buyer_id)
    session = server.api(
        "POST",
        "/api/v1/widget/session/",
        {"shop": DEMO_SLUG, "buyer_id": buyer_id, "signature": signature, "entrance": "product"},
    )
    buyer = f"Buyer {session['token']}"
    server.api("POST", "/api/v1/widget/conversation/", {"human": True}, buyer)
    answer = server.api("GET", "/api/v1/widget/conversation/messages/", auth=buyer)
    return list(answer["results"] if isinstance(answer, dict) else answer)


def test_the_owner_changes_the_rule_and_the_queue_order(browser: Browser, demo_server: Server):
    # Given the owner on the routing page, on a phone
    page = signed_in_owner(browser, demo_server, viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/admin/routing/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Routing and queue")
    steps = page.locator("[data-routing-steps] li")
    expect(steps.filter(has_text="Remaining capacity")).to_have_count(1)
    expect(page.get_by_label("Remaining capacity")).to_be_checked()
    assert no_horizontal_overflow(page)
    # the groups that queue show only when the queue is for chosen groups
    groups = page.locator("[data-queue-groups]")
    expect(groups).to_be_hidden()
    page.get_by_label("Chosen groups").check()
    expect(groups).to_be_visible()
    page.get_by_label("Whole shop").check()
    expect(groups).to_be_hidden()

    # When they choose even distribution and newest first, and save
    page.get_by_label("Even distribution").check()
    page.get_by_label("Newest first").check()
    page.get_by_role("button", name="Save").click()

    # Then the page says so and shows the new order of decisions
    expect(page.get_by_text("The routing and queue settings were saved.")).to_be_visible()
    expect(page.get_by_label("Even distribution")).to_be_checked()
    expect(steps.filter(has_text="Even distribution")).to_have_count(1)
    expect(steps.filter(has_text="Remaining capacity")).to_have_count(0)
    expect(steps.filter(has_text="newest first")).to_have_count(1)
    titles = [t.strip() for t in page.locator(".routing-steps__title").all_inner_texts()]
    assert titles.index("Reception scope") < titles.index("Even distribution")
    assert titles.index("Even distribution") < titles.index("Queue")

    # and the settings API shows the same
    settings = demo_server.api("GET", "/api/v1/settings/", auth=main_token(demo_server))
    assert settings["assignment_rule"] == "even"
    assert settings["queue_order"] == "newest_first"
    assert settings["queue_mode"] == "shop"


def test_a_holiday_today_sends_buyers_the_off_hours_reply(browser: Browser, demo_server: Server):
    staff = main_token(demo_server)
    settings = demo_server.api("GET", "/api/v1/settings/", auth=staff)
    offhours = texts.offhours(
        ShopSettings(language=settings["language"], offhours_text=settings["offhours_text"])
    )
    today = datetime.now(SHOP_ZONE).date()

    # Given the owner opens the shop all day on today's weekday, on the hours page
    page = signed_in_owner(browser, demo_server)
    page.goto("/admin/hours/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Business hours")
    expect(page.get_by_text("Time zone: Asia/Shanghai")).to_be_visible()
    day = page.locator(f'[data-day="{today.weekday()}"]')
    day.locator("input.hours-time").nth(0).fill("00:00")
    day.locator("input.hours-time").nth(1).fill("24:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The business hours were saved.")).to_be_visible()
    expect(page.locator("[data-open-now]")).to_have_text("Open now")
    # nobody is online: inside business hours a buyer gets no off-hours reply
    before = buyer_asks_for_a_human(demo_server, staff, "hours-buyer-1")
    assert offhours not in [m["body"] for m in before]

    # When the owner adds an exception: closed all day today
    page.get_by_role("button", name="Add an exception").click()
    row = page.locator("[data-exception-rows] [data-row]").last
    expect(row.locator('input[type="date"]')).to_be_focused()
    row.locator('input[type="date"]').fill(today.isoformat())
    row.get_by_label("Closed all day").check()
    page.get_by_role("button", name="Save").click()

    # Then the page says the shop is closed now, the exception listed
    expect(page.get_by_text("The business hours were saved.")).to_be_visible()
    expect(page.locator("[data-closed-now]")).to_have_text("Closed now")
    expect(page.locator("[data-exception-rows] input[type=date]").first).to_have_value(
        today.isoformat()
    )
    saved = demo_server.api("GET", "/api/v1/settings/", auth=staff)["business_hours"]
    assert {"date": today.isoformat(), "closed": True} in saved["exceptions"]

    # and a buyer asking for a human now gets the off-hours reply (SPEC D2)
    messages = buyer_asks_for_a_human(demo_server, staff, "hours-buyer-2")
    replies = [m for m in messages if m["body"] == offhours]
    assert len(replies) == 1 and replies[0]["sender"] == "system", messages


def test_on_a_phone_the_owner_adds_an_evening_range(browser: Browser, demo_server: Server):
    # Given the hours page on a phone: seven days, Monday first, nothing wider than the screen
    page = signed_in_owner(browser, demo_server, viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/admin/hours/")
    expect(page.locator("[data-day]")).to_have_count(7)
    expect(page.locator(".hours-day__name").first).to_have_text("Monday")
    assert no_horizontal_overflow(page)
    weekday = (datetime.now(SHOP_ZONE).weekday() + 1) % 7  # not today: the other test's day
    day = page.locator(f'[data-day="{weekday}"]')
    times = day.locator("input.hours-time")
    expect(times).to_have_count(4)  # 08:00-19:00 and one empty range

    # When they add a range that overlaps the day's hours, the row says so and nothing is saved
    day.get_by_role("button", name="Add a range").click()
    expect(times).to_have_count(6)
    expect(times.nth(4)).to_be_focused()
    times.nth(4).fill("18:00")
    times.nth(5).fill("21:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Please check the rows marked below.")).to_be_visible()
    expect(day.get_by_text("Overlaps another range of this day.")).to_be_visible()
    staff = main_token(demo_server)
    weekly = demo_server.api("GET", "/api/v1/settings/", auth=staff)["business_hours"]["weekly"]
    assert {"weekday": weekday, "start": "18:00", "end": "21:00"} not in weekly

    # Then, the evening starting after the day's hours, it is saved
    day.locator("input.hours-time").nth(4).fill("19:30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The business hours were saved.")).to_be_visible()
    weekly = demo_server.api("GET", "/api/v1/settings/", auth=staff)["business_hours"]["weekly"]
    assert [s for s in weekly if s["weekday"] == weekday] == [
        {"weekday": weekday, "start": "08:00", "end": "19:00"},
        {"weekday": weekday, "start": "19:30", "end": "21:00"},
    ]
    assert no_horizontal_overflow(page)
