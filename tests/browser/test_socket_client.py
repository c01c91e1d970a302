"""The shared socket client (static/js/socket.js) on both pages, in a real browser against a real
uvicorn process (docs/realtime.md, "The shared socket client"): the workbench and the widget
lose their socket while the other side writes through the REST API, and after reconnecting
show every missed message once, in order, by resuming with ?after= (not by reloading); a
message written while disconnected is delivered once when the socket is back, even when its
REST fallback reached the server and only the answer was lost; an account disabled while its
workbench is open (close 4403) stops the reconnecting and the page says so.

The network is cut with Playwright's WebSocket routes: while "down", every attempt of the page
is closed before it reaches the server, as a dead network would; while "up", the page's socket
is passed through to the server untouched. Each test has a demo shop of its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Route, WebSocketRoute, expect

from apps.web.pwa import WORKBENCH_ASSETS
from tests.browser.test_realtime_pages import (  # the browser fixture and the page helpers
    PHONE,
    browser,
    context,
    online_on_the_workbench,
)
from tests.browser.test_workbench_widget_fixes import shop_server, token_of
from tests.realtime.servers import BASE_DIR, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shop_server"]

# Short delays for the tests (the defaults: 1 s doubling up to 30 s). Set before socket.js runs.
FAST = """window.HelpdeskSocketDefaults = {baseDelayMs: 300, maxDelayMs: 600};"""
MISSED = 5


class Link:
    """The WebSocket connections of one page, through a route that can cut them."""

    def __init__(self, page: Page, path: str):
        self.down = False
        self.urls: list[str] = []
        self.current: WebSocketRoute | None = None
        page.route_web_socket(re.compile(re.escape(path)), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        self.urls.append(ws.url)
        if self.down:
            ws.close()  # as a dead network: the attempt never reaches the server
            return
        ws.connect_to_server()
        self.current = ws

    def cut(self) -> None:
        self.down = True
        if self.current is not None:
            self.current.close()  # the page's side, and with it the server's
            self.current = None

    def restore(self) -> None:
        self.down = False

    def attempts(self) -> int:
        return len(self.urls)


def fast_page(browser: Browser, server: Server, **options: Any) -> Page:
    ctx = context(browser, server, **options)
    ctx.add_init_script(FAST)
    return ctx.new_page()


def widget(page: Page) -> str:
    """Opens the widget; its buyer token."""
    with page.expect_response("**/api/v1/widget/session/") as session:
        page.goto("/demo/widget/")
    expect(page.locator("[data-state-text]")).to_have_text(
        "You are chatting with the service assistant."
    )
    return str(session.value.json()["token"])


def eventually(page: Page, check: Callable[[], bool], what: str) -> None:
    """Bounded (10 s): for what the page's route handlers record."""
    for _ in range(100):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(what)


def after_of(url: str) -> int | None:
    found = re.search(r"[?&]after=(\d+)", url)
    return int(found.group(1)) if found else None


def texts(page: Page, selector: str, prefix: str) -> list[str]:
    return [t for t in page.locator(selector).all_inner_texts() if t.startswith(prefix)]


def message_requests(page: Page) -> list[str]:
    """Every GET of a conversation's messages from now on (a reload of the history)."""
    seen: list[str] = []

    def note(request: Request) -> None:
        if request.method == "GET" and "messages/" in request.url:
            seen.append(request.url)

    page.on("request", note)
    return seen


def test_both_pages_use_the_shared_client_and_no_page_opens_a_socket_of_its_own(
    browser: Browser, shop_server: Server
):
    # Given the workbench and the widget
    agent = context(browser, shop_server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = context(browser, shop_server, viewport=PHONE, is_mobile=True).new_page()
    widget(buyer)
    for page, script in ((agent, "workbench.js"), (buyer, "widget.js")):
        # Then each loads socket.js before its own script, and has the client
        sources = page.eval_on_selector_all("script[src]", "nodes => nodes.map(n => n.src)")
        names = [s.rsplit("/", 1)[-1] for s in sources]
        assert names.index("socket.js") < names.index(script), names
        assert page.evaluate("typeof window.HelpdeskSocket.create") == "function"
    # and the installed workbench keeps a copy of it (seed 002)
    assert "js/socket.js" in WORKBENCH_ASSETS
    # and only socket.js opens a WebSocket (one source check for every script of the pages)
    scripts = sorted((BASE_DIR / "static" / "js").glob("*.js"))
    opening = [p.name for p in scripts if "new WebSocket(" in Path(p).read_text()]
    assert opening == ["socket.js"]


def test_widget_resumes_after_a_lost_connection_with_every_missed_message_once_in_order(
    browser: Browser, shop_server: Server
):
    # Given 小王 online, and a buyer chatting with 小王 in the widget, over a link we can cut
    agent = context(browser, shop_server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    agent_auth = f"Token {token_of(shop_server, 'demo:xiaowang')}"
    page = fast_page(browser, shop_server, viewport=PHONE, is_mobile=True, has_touch=True)
    link = Link(page, "/ws/widget/")
    token = widget(page)
    page.get_by_role("button", name="Talk to a human agent").click()
    expect(page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    buyer_auth = f"Buyer {token}"
    conversation = shop_server.api("GET", "/api/v1/widget/conversation/", auth=buyer_auth)["id"]
    subtitle = page.locator("[data-connection]")
    expect(subtitle).to_have_text("Customer service")

    # When the connection is lost and the agent answers five times meanwhile (REST)
    link.cut()
    expect(subtitle).to_have_text(re.compile("Reconnecting|Connecting"))
    tried = link.attempts()
    eventually(page, lambda: link.attempts() > tried, "no new attempt")  # it keeps trying
    for n in range(1, MISSED + 1):
        shop_server.api(
            "POST",
            f"/api/v1/conversations/{conversation}/messages/",
            {"body": f"missed {n}", "client_id": f"missed-{n}"},
            auth=agent_auth,
        )
    page.wait_for_timeout(500)
    assert texts(page, ".bubble--agent p", "missed") == []  # nothing arrives while cut
    reloads = message_requests(page)

    # Then, the link back, the widget reconnects by itself, resuming after what it had
    link.restore()
    expect(subtitle).to_have_text("Customer service")
    expect(page.locator(".bubble--agent p", has_text="missed 5")).to_have_count(1)
    assert texts(page, ".bubble--agent p", "missed") == [f"missed {n}" for n in range(1, 6)]
    resumed = after_of(link.urls[-1])
    assert resumed is not None and resumed > 0, link.urls[-1]
    # a single-use ticket per connection (issue 12, I7): the buyer token never in the URL
    assert "ticket=" in link.urls[-1] and "token=" not in link.urls[-1], link.urls[-1]
    assert reloads == []  # the missed events came with ?after=, the history was not reloaded

    # and the connection stays healthy: a new message arrives live, once
    shop_server.api(
        "POST",
        f"/api/v1/conversations/{conversation}/messages/",
        {"body": "missed? no, live", "client_id": "live-1"},
        auth=agent_auth,
    )
    expect(page.locator(".bubble--agent p", has_text="live")).to_have_count(1)
    assert len(texts(page, ".bubble--agent p", "missed")) == MISSED + 1


def test_workbench_resumes_after_a_lost_connection_and_delivers_what_was_typed_meanwhile_once(
    browser: Browser, shop_server: Server
):
    # Given 小王 on the workbench (over a link we can cut) chatting with a buyer
    agent = fast_page(browser, shop_server)
    link = Link(agent, "/ws/agent/")
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = context(browser, shop_server, viewport=PHONE, is_mobile=True).new_page()
    token = widget(buyer)
    buyer.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.locator("[data-state-text]")).to_have_text("An agent is with you.")
    buyer_auth = f"Buyer {token}"
    shop_server.api(
        "POST", "/api/v1/widget/conversation/messages/", {"body": "hello"}, auth=buyer_auth
    )
    agent.locator("[data-conversation-list] .conv").click()
    chat = agent.locator("[data-chat-messages]")
    expect(chat.locator(".bubble--buyer p")).to_have_text("hello")
    connection = agent.locator("[data-connection]")

    # When its connection is lost, the buyer writes five times meanwhile (REST)
    link.cut()
    expect(connection).to_have_class(re.compile("connection--lost"))
    expect(agent.locator("[data-connection-text]")).to_contain_text("Reconnecting in")
    for n in range(1, MISSED + 1):
        shop_server.api(
            "POST",
            "/api/v1/widget/conversation/messages/",
            {"body": f"missed {n}", "client_id": f"b-missed-{n}"},
            auth=buyer_auth,
        )
    # and the agent replies, whose REST fallback reaches the server but whose answer is lost
    stored_by_rest: list[int] = []

    def lose_the_answer(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        stored_by_rest.append(route.fetch().status)  # the server stores it
        route.abort("internetdisconnected")  # and the page hears nothing

    agent.route(re.compile(r"/api/v1/conversations/\d+/messages/$"), lose_the_answer)
    agent.get_by_label("Your reply").fill("typed while offline")
    agent.get_by_label("Your reply").press("Enter")
    pending = chat.locator(".bubble.is-pending")
    expect(pending).to_have_count(1)
    expect(pending.locator("p")).to_have_text("typed while offline")
    eventually(agent, lambda: stored_by_rest == [201], f"stored through REST: {stored_by_rest}")
    agent.wait_for_timeout(500)
    expect(pending).to_have_count(1)  # still waiting for the socket, not failed
    assert texts(agent, "[data-chat-messages] .bubble--buyer p", "missed") == []

    # Then, the link back, the missed messages show once, in order, and the reply is sent once
    link.restore()
    expect(connection).to_have_class(re.compile("connection--connected"))
    expect(chat.locator(".bubble--buyer p", has_text="missed 5")).to_have_count(1)
    assert texts(agent, "[data-chat-messages] .bubble--buyer p", "missed") == [
        f"missed {n}" for n in range(1, 6)
    ]
    resumed = after_of(link.urls[-1])
    assert resumed is not None and resumed > 0, link.urls[-1]
    assert "ticket=" in link.urls[-1] and "token=" not in link.urls[-1], link.urls[-1]
    expect(pending).to_have_count(0)
    expect(chat.locator(".bubble--mine p", has_text="typed while offline")).to_have_count(1)
    expect(chat.locator(".is-failed")).to_have_count(0)
    expect(buyer.locator(".bubble--agent p", has_text="typed while offline")).to_have_count(1)
    stored = shop_server.api("GET", "/api/v1/widget/conversation/messages/", auth=buyer_auth)
    bodies = [m["body"] for m in stored["results"]]
    assert bodies.count("typed while offline") == 1
    assert [b for b in bodies if b.startswith("missed")] == [f"missed {n}" for n in range(1, 6)]


def test_widget_message_written_while_disconnected_is_sent_once_when_the_socket_is_back(
    browser: Browser, shop_server: Server
):
    # Given a buyer chatting with 小王, and then no network at all (socket and REST)
    agent = context(browser, shop_server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    page = fast_page(browser, shop_server, viewport=PHONE, is_mobile=True, has_touch=True)
    link = Link(page, "/ws/widget/")
    widget(page)
    page.get_by_role("button", name="Talk to a human agent").click()
    expect(page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    refused: list[str] = []

    def unreachable(route: Route) -> None:
        if route.request.method == "POST":
            refused.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.fallback()

    page.route("**/api/v1/widget/conversation/messages/", unreachable)
    link.cut()
    expect(page.locator("[data-connection]")).to_have_text(re.compile("Reconnecting|Connecting"))

    # When the buyer writes
    page.get_by_label("Your message").fill("written offline")
    page.get_by_role("button", name="Send").click()
    mine = page.locator(".bubble--mine")
    expect(mine.locator("p", has_text="written offline")).to_have_count(1)
    expect(page.locator(".bubble.is-pending")).to_have_count(1)
    eventually(page, lambda: len(refused) == 1, "no REST fallback")  # tried, and failed

    # Then once the network is back it is sent over the socket, once, and 小王 sees it once
    page.unroute("**/api/v1/widget/conversation/messages/")
    link.restore()
    expect(page.locator("[data-connection]")).to_have_text("Customer service")
    expect(page.locator(".bubble.is-pending")).to_have_count(0)
    expect(mine.locator("p", has_text="written offline")).to_have_count(1)
    expect(page.locator(".is-failed")).to_have_count(0)
    agent.locator("[data-conversation-list] .conv").click()
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text("written offline")


def test_workbench_of_a_disabled_account_stops_reconnecting_and_says_so(
    browser: Browser, shop_server: Server
):
    # Given 小王 online on the workbench
    agent = context(browser, shop_server).new_page()
    sockets_opened: list[str] = []
    agent.on("websocket", lambda ws: sockets_opened.append(ws.url))
    online_on_the_workbench(agent, "demo:xiaowang")
    opened = len(sockets_opened)
    assert opened >= 1

    # When the shop owner disables the account (SPEC A3: its sockets are closed with 4403)
    owner = f"Token {token_of(shop_server, 'demo')}"
    accounts = shop_server.api("GET", "/api/v1/accounts/", auth=owner)
    rows = accounts["results"] if isinstance(accounts, dict) else accounts
    xiaowang = next(a for a in rows if a["username"].endswith("xiaowang"))
    shop_server.api("PATCH", f"/api/v1/accounts/{xiaowang['id']}/", {"is_active": False}, owner)

    # Then the page says why, opens no new socket, and goes to the sign-in page
    expect(agent.locator("[data-connection-text]")).to_have_text(
        re.compile("Your access was revoked")
    )
    expect(agent.locator("[data-connection]")).to_have_class(re.compile("connection--revoked"))
    expect(agent).to_have_url(re.compile(r"/login/\?revoked=1$"))
    assert len(sockets_opened) == opened
