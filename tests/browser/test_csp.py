"""The strict Content-Security-Policy (issue 12, hardening): every page of the product sends it,
and none of them breaks it (no inline script or style, nothing from another origin). Chromium
reports each violation as a ``securitypolicyviolation`` event, collected here on every page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from apps.web.demo import DEMO_PASSWORD, DEMO_SLUG
from tests.browser.test_admin_screenshots import PAGES, detail_pages
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    browser,
    demo_server,
)
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""
# Pages that live outside the admin menu (the admin pages come from the screenshots test).
OTHER_PAGES = ["/workbench/", "/history/", "/api/docs/"]


def _visit(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, (path, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, (path, policy)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, (path, policy)
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__csp")
    assert violations == [], (path, violations)


def test_no_page_breaks_the_content_security_policy(browser: Browser, demo_server: Server):
    ctx = browser.new_context(base_url=demo_server.base, viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(10_000)
    ctx.add_init_script(RECORD_VIOLATIONS)
    page = ctx.new_page()
    # the pages before signing in
    for path in ["/login/", "/signup/", "/demo/widget/", f"/widget/{DEMO_SLUG}/"]:
        _visit(page, path)
    page.goto("/login/")
    page.locator("#id_username").fill("demo")
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("button.button--wide[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    # every page of the main account, the API docs included (their script from their own URL)
    for path in OTHER_PAGES + [p for _n, p, _e, _c in PAGES + detail_pages(demo_server)]:
        _visit(page, path)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Shop helpdesk API")
    ctx.close()


def test_only_the_widget_may_be_framed_and_only_by_its_shop(browser: Browser, demo_server: Server):
    ctx = browser.new_context(base_url=demo_server.base)
    page = ctx.new_page()
    login = page.goto("/login/")
    assert login is not None
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    widget = page.goto(f"/widget/{DEMO_SLUG}/")
    assert widget is not None
    ancestors = re.search(r"frame-ancestors ([^;]*)", widget.headers["content-security-policy"])
    assert ancestors is not None and "'self'" in ancestors.group(1)
    assert "'none'" not in ancestors.group(1)
    ctx.close()
