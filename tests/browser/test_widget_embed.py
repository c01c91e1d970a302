"""A shop's own widget from its embed snippet (SPEC F1, H3; issue 9, must show 4): on a page of an
allowed origin the launcher opens the shop's widget, which signs the buyer in with the HMAC
identity and chats; a page of another origin is refused the frame by the browser (CSP
frame-ancestors from the shop's widget_origins)."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    browser,
    context,
    demo_server,
)
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]


@contextmanager
def shop_site(folder: Path, html: str) -> Iterator[str]:
    """A shop's own page, served from an origin of its own (another port); its address."""
    (folder / "index.html").write_text(html, encoding="utf-8")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def snippet(server: Server, secret: str) -> str:
    buyer = "b-001"  # 张三, a buyer the demo shop knows; its page signs the id on its server
    signature = hmac.new(secret.encode(), buyer.encode(), hashlib.sha256).hexdigest()
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        "<body><h1>Thermos cup</h1>"
        f'<script src="{server.base}/static/js/embed.js" data-shop="demo" '
        f'data-entrance="product" data-product="p-1001" data-buyer-id="{buyer}" '
        f'data-signature="{signature}" async></script></body></html>'
    )


def test_the_embed_snippet_works_from_an_allowed_origin_and_is_refused_elsewhere(
    browser: Browser, demo_server: Server, tmp_path: Path
):
    main = demo_server.api(
        "POST", "/api/v1/auth/token/", {"username": "demo", "password": DEMO_PASSWORD}
    )
    auth = f"Token {main['token']}"
    secret = demo_server.api("GET", "/api/v1/settings/", None, auth)["widget_secret"]
    html = snippet(demo_server, secret)
    (tmp_path / "allowed").mkdir()
    (tmp_path / "other").mkdir()
    with (
        shop_site(tmp_path / "allowed", html) as allowed,
        shop_site(tmp_path / "other", html) as other,
    ):
        # Given the shop allows its own site's origin only, and set how its widget looks
        look = {
            "widget_origins": [allowed],
            "widget_color": "#c2185b",
            "widget_position": "left",
            "widget_greeting": "欢迎光临！下单后 24 小时内发货。",
        }
        demo_server.api("PATCH", "/api/v1/settings/", look, auth)

        # When a buyer on the allowed site opens the widget from the launcher
        page = context(browser, demo_server).new_page()
        page.goto(allowed + "/")
        launcher = page.get_by_role("button", name="Chat with us")
        # the launcher sits in the shop's corner, in the shop's colour (seed 003)
        expect(launcher).to_have_css("background-color", "rgb(194, 24, 91)")
        box = launcher.bounding_box()
        assert box is not None and box["x"] < 100
        launcher.click()
        widget = page.frame_locator("iframe[data-helpdesk-widget]")
        # Then it is the shop's widget, signed in as its buyer, and the buyer can chat
        expect(widget.locator("[data-state-text]")).to_have_text(
            "You are chatting with the service assistant."
        )
        expect(widget.locator("#widget-title")).to_have_text("演示小店 Demo Shop")
        expect(widget.locator("[data-greeting]")).to_have_text("欢迎光临！下单后 24 小时内发货。")
        widget.get_by_label("Your message").fill("这个保温杯有货吗？")
        widget.get_by_role("button", name="Send").click()
        expect(widget.locator(".bubble--mine p").last).to_have_text("这个保温杯有货吗？")
        listed = demo_server.api("GET", "/api/v1/conversations/", None, auth)["results"]
        ours = [c for c in listed if c["buyer"]["external_id"] == "b-001"]
        assert ours and ours[0]["product"] == "p-1001" and ours[0]["entrance"] == "product"

        # When the same snippet runs on a site the shop did not allow
        refused = context(browser, demo_server).new_page()
        refused.goto(other + "/")
        # Then the browser refuses to frame the widget: nothing of it loads there
        with refused.expect_console_message(lambda m: "frame-ancestors" in m.text):
            refused.get_by_role("button", name="Chat with us").click()
        frame = refused.frame_locator("iframe[data-helpdesk-widget]")
        expect(frame.locator("[data-widget]")).to_have_count(0)
