"""The staffing forecast page in a real browser against a real server (SPEC G4): the owner enters
an hourly curve and a roster, runs the forecast, sees the curves (drawn as inline SVG by the
page's own script) and the suggested roster, takes the suggestion as its roster and runs it
again: the target is met. It fits a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    PHONE,
    browser,
    demo_server,
    signed_in_owner,
)
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

# Buyers per hour, 09:00 to 17:59.
CURVE = {9: 12, 10: 20, 11: 24, 12: 16, 13: 16, 14: 20, 15: 24, 16: 20, 17: 12}


def test_the_owner_forecasts_a_day_and_takes_the_suggested_roster(
    browser: Browser, demo_server: Server
):
    # Given the owner on the forecast page
    page = signed_in_owner(browser, demo_server)
    page.goto("/admin/forecast/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staffing forecast")
    # When they enter buyers per hour, handling times and one shift of 2 agents of max 1
    page.get_by_label("Buyers per hour").check()
    hours = page.locator("input[name=curve]")
    expect(hours).to_have_count(24)
    for hour in range(24):
        hours.nth(hour).fill(str(CURVE.get(hour, 0)))
    page.get_by_label("Distribution").select_option("exponential")
    page.get_by_label("Average (seconds)").fill("420")
    page.get_by_label("These shifts").check()
    row = page.locator("[data-roster-row]").first
    row.locator("[name=count]").fill("2")
    row.locator("[name=from]").fill("09:00")
    row.locator("[name=to]").fill("18:00")
    row.locator("[name=max_concurrent]").fill("1")
    page.get_by_label("2-minute rate to reach (%)").fill("80")
    page.get_by_role("button", name="Run the forecast").click()

    # Then the forecast shows its figures and four curves, and misses the target
    result = page.locator("[data-forecast-result]")
    expect(result).to_be_visible()
    expect(result.locator("figure.forecast-chart")).to_have_count(4)
    assert result.locator("polyline.forecast-line").count() >= 4
    expect(result.locator("[data-forecast-verdict]")).to_have_text("Target not met")
    expect(result.locator(".forecast-figure").first).to_contain_text(str(sum(CURVE.values())))
    # and the suggestion meets it
    suggestion = page.locator("[data-forecast-suggestion]")
    expect(suggestion).to_be_visible()
    expect(suggestion.locator("[data-suggestion-verdict]")).to_have_text("Target met")
    expect(suggestion.locator("table tbody tr").first).to_be_visible()

    # When they take the suggested roster and run again
    suggestion.get_by_role("button", name="Use this roster").click()
    assert page.locator("[data-roster-row]").count() >= 1
    expect(page.get_by_label("These shifts")).to_be_checked()
    page.get_by_role("button", name="Run the forecast").click()
    # Then the forecast meets the target
    expect(result.locator("[data-forecast-verdict]")).to_have_text("Target met")

    # And bad input is told next to nothing else: a shift that ends before it starts
    page.locator("[data-roster-row]").first.locator("[name=to]").fill("08:00")
    page.get_by_role("button", name="Run the forecast").click()
    errors = page.locator("[data-forecast-errors]")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("roster")
    page.context.close()


def test_the_forecast_page_fits_a_phone(browser: Browser, demo_server: Server):
    page = signed_in_owner(browser, demo_server, viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/admin/forecast/")
    page.get_by_label("Buyers per hour").check()
    page.locator("input[name=curve]").nth(10).fill("30")
    page.get_by_label("These shifts").check()
    page.get_by_role("button", name="Run the forecast").click()
    expect(page.locator("[data-forecast-result] figure.forecast-chart")).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.context.close()
