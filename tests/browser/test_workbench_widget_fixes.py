"""Fixes of the workbench and the buyer widget in a real browser over real WebSockets (SPEC E1,
E2, F2-F4, I3 and the amended decisions): Esc never ends a conversation while a reply is being
written, an input method's composition included, and ending asks first; the transfer note
reaches the receiving agent's chat view and never the buyer; the widget keeps the history of
a rated conversation when the buyer writes again; the widget fills a phone's screen; the queue
length follows the queue; the entrance shows translated; markup in messages stays text.

Each test has a demo shop of its own (a uvicorn process, as tests/browser/test_realtime_pages.py
starts it), since agents' statuses and conversations outlive a test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.browser.test_realtime_pages import (  # the browser fixture and the page helpers
    PHONE,
    browser,
    context,
    online_on_the_workbench,
    sign_in,
)
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

NOTE = '问库存 <b>bold</b><img src=x onerror="window.__xss=1">'
XSS = "<img src=x onerror=alert(1)>"
XSS_AGENT = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


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


class Buyer:
    """The widget on a phone, with its buyer token and every frame its socket received."""

    def __init__(self, browser: Browser, server: Server, viewport: dict[str, int] = PHONE):
        ctx = context(browser, server, viewport=viewport, is_mobile=True, has_touch=True)
        self.page = ctx.new_page()
        self.frames: list[str] = []
        self.page.on("websocket", self._watch)
        with self.page.expect_response("**/api/v1/widget/session/") as session:
            self.page.goto("/demo/widget/")
        self.token = session.value.json()["token"]
        self.server = server
        expect(self.page.locator("[data-state-text]")).to_have_text(
            "You are chatting with the service assistant."
        )

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return self.server.api(method, "/api/v1/widget/" + path, body, f"Buyer {self.token}")

    def write(self, text: str) -> None:
        self.page.get_by_label("Your message").fill(text)
        self.page.get_by_role("button", name="Send").click()


def watch_dialogs(page: Page) -> list[str]:
    """Every alert, confirm or prompt the page opens (none should be)."""
    seen: list[str] = []

    def dismiss(dialog: Any) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return seen


def token_of(server: Server, login: str) -> str:
    from apps.web.demo import DEMO_PASSWORD

    answer = server.api(
        "POST", "/api/v1/auth/token/", {"username": login, "password": DEMO_PASSWORD}
    )
    return str(answer["token"])


def nothing_focused(page: Page) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")


def escape(page: Page, **init: object) -> None:
    """A keydown of Esc on the document, as a browser sends it (with ``init``'s fields)."""
    page.evaluate(
        """(init) => document.body.dispatchEvent(new KeyboardEvent("keydown", Object.assign(
             {key: "Escape", code: "Escape", bubbles: true, cancelable: true}, init)))""",
        init,
    )


def test_esc_while_writing_never_ends_ending_asks_and_the_transfer_note_is_for_staff_only(
    browser: Browser, shop_server: Server
):
    # Given 小王 online on the workbench with a buyer from the member centre
    agent = context(browser, shop_server).new_page()
    agent_dialogs = watch_dialogs(agent)
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = Buyer(browser, shop_server)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    buyer.write("你好, 这个杯子有货吗?")
    item = agent.locator("[data-conversation-list] .conv")
    item.click()
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text(
        "你好, 这个杯子有货吗?"
    )
    # (the header names the entrance as people read it, E3)
    expect(agent.locator("[data-chat-meta]")).to_have_text("Member centre")
    reply = agent.get_by_label("Your reply")
    dialog = agent.locator("[data-end-dialog]")
    closed = agent.locator("[data-chat-closed]")

    # When the agent presses Esc while typing a reply
    reply.fill("有货的, 今天下单")
    reply.press("Escape")
    # Then nothing ends and the half-typed reply stays
    expect(dialog).to_be_hidden()
    expect(closed).to_be_hidden()
    expect(reply).to_have_value("有货的, 今天下单")

    # nor with the text in the box and the focus elsewhere
    nothing_focused(agent)
    agent.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(reply).to_have_value("有货的, 今天下单")

    # nor while an input method composes (its Esc cancels the composition), however the
    # browser says so: isComposing, keyCode 229, or compositionstart before the Esc
    reply.fill("")
    nothing_focused(agent)
    escape(agent, isComposing=True)
    escape(agent, keyCode=229)
    agent.evaluate(
        "document.body.dispatchEvent(new CompositionEvent('compositionstart', {bubbles: true}))"
    )
    escape(agent)
    expect(dialog).to_be_hidden()
    # (a real composition in the reply box, through the browser's input method interface)
    reply.focus()
    cdp = agent.context.new_cdp_session(agent)
    cdp.send("Input.imeSetComposition", {"text": "ni", "selectionStart": 2, "selectionEnd": 2})
    agent.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    agent.evaluate(
        "document.body.dispatchEvent(new CompositionEvent('compositionend', {bubbles: true}))"
    )
    reply.fill("")
    nothing_focused(agent)
    agent.wait_for_timeout(400)  # the Esc that cancels a composition may follow its end
    assert buyer.api("GET", "conversation/")["state"] == "active"

    # When Esc is pressed with nothing being written, the agent is asked first
    agent.keyboard.press("Escape")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep chatting")).to_be_focused()
    # and Esc again keeps the conversation
    agent.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # as does "Keep chatting" after the End button
    agent.locator("[data-chat-end]").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep chatting").click()
    expect(dialog).to_be_hidden()
    expect(closed).to_be_hidden()
    assert buyer.api("GET", "conversation/")["state"] == "active"
    expect(buyer.page.locator("[data-rating]")).to_be_hidden()

    # Given 小李 online on a workbench of their own
    receiver = context(browser, shop_server).new_page()
    online_on_the_workbench(receiver, "demo:xiaoli")

    # When 小王 transfers the buyer to 小李 with a note (the list shows who is online)
    agent.get_by_role("button", name="Transfer").first.click()
    select = agent.get_by_label("Transfer to")
    expect(select.locator("option", has_text="(demo:xiaoli)")).to_be_enabled()
    expect(select.locator("option", has_text="(demo:xiaozhang)")).to_have_text(
        re.compile(r"Offline$")
    )
    expect(select.locator("option", has_text="(demo:xiaozhang)")).to_be_disabled()
    select.select_option(label="小李 (demo:xiaoli)")
    agent.get_by_label("Note for the receiver").fill(NOTE)
    agent.locator("[data-transfer-form] button[type=submit]").click()
    expect(closed).to_have_text("The conversation was transferred.")

    # Then 小李 reads the note in the chat view, as text
    received = receiver.locator("[data-conversation-list] .conv")
    expect(received).to_have_count(1)
    received.click()
    note = receiver.locator("[data-chat-notes] .internal-note")
    expect(note.locator(".internal-note__body")).to_have_text(NOTE)
    expect(note.locator(".internal-note__label")).to_have_text("Transfer note from 小王")
    assert receiver.evaluate("window.__xss") is None
    # (and on another device, from the conversation's internal notes, GET .../notes/)
    elsewhere = context(browser, shop_server).new_page()
    sign_in(elsewhere, "demo:xiaoli")
    elsewhere.locator("[data-conversation-list] .conv").click()
    expect(elsewhere.locator("[data-chat-notes] .internal-note__body")).to_have_text(NOTE)
    elsewhere.context.close()

    # and the buyer never: neither on screen, nor its socket, nor its messages' API
    expect(buyer.page.locator(".bubble--system p").last).to_contain_text("转接")
    assert "问库存" not in buyer.page.content()
    assert not [frame for frame in buyer.frames if "问库存" in frame]
    messages = buyer.api("GET", "conversation/messages/?after_seq=0")["results"]
    assert all("问库存" not in m["body"] for m in messages)
    assert "问库存" not in json.dumps(buyer.api("GET", "conversation/"))

    # When 小李 ends the conversation, confirming it
    receiver.locator("[data-chat-end]").click()
    receiver.locator("[data-end-dialog]").get_by_role("button", name="End conversation").click()
    expect(receiver.locator("[data-chat-closed]")).to_have_text("This conversation has ended.")

    # Then the buyer is asked to rate it and does
    buyer.page.locator("label[for=score-4]").click()
    buyer.page.get_by_role("button", name="Rate").click()
    rated = buyer.page.locator("[data-rated]")
    expect(rated).to_have_text("Thank you for your rating!")

    # When the buyer writes again, a new conversation begins below the earlier history
    buyer.write("还有一个问题")
    expect(buyer.page.locator(".bubble--mine p").last).to_have_text("还有一个问题")
    expect(buyer.page.locator(".widget__divider")).to_have_count(1)
    buyer.page.wait_for_timeout(1000)  # the new conversation's messages load
    expect(buyer.page.locator(".bubble--mine p").first).to_have_text("你好, 这个杯子有货吗?")
    expect(rated).to_be_hidden()
    expect(buyer.page.locator("[data-rating]")).to_be_hidden()
    assert agent_dialogs == []


def test_markup_in_messages_shows_as_text_and_runs_nothing(browser: Browser, shop_server: Server):
    # Given an agent and a buyer chatting, both pages watched for dialogs
    agent = context(browser, shop_server).new_page()
    agent_dialogs = watch_dialogs(agent)
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = Buyer(browser, shop_server)
    buyer_dialogs = watch_dialogs(buyer.page)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_have_text("An agent is with you.")

    # When the buyer sends markup
    buyer.write(XSS)
    item = agent.locator("[data-conversation-list] .conv")
    expect(item.locator(".conv__preview")).to_have_text(XSS)
    item.click()
    # and the agent answers with markup and a script
    agent.get_by_label("Your reply").fill(XSS_AGENT)
    agent.get_by_label("Your reply").press("Enter")

    # Then both pages show both messages as literal text
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text(XSS)
    expect(agent.locator("[data-chat-messages] .bubble--mine p").last).to_have_text(XSS_AGENT)
    expect(buyer.page.locator(".bubble--mine p").last).to_have_text(XSS)
    expect(buyer.page.locator(".bubble--agent p").last).to_have_text(XSS_AGENT)
    # and nothing ran: no image element, no dialog, no flag
    for page in (agent, buyer.page):
        page.wait_for_timeout(300)
        assert page.locator(".bubble img, .bubble script").count() == 0
        assert page.evaluate("window.__xss") is None
    assert agent_dialogs == [] and buyer_dialogs == []


def test_widget_fills_a_phone_screen_with_the_composer_at_the_bottom(
    browser: Browser, shop_server: Server
):
    # Given the widget on a 390×844 phone
    buyer = Buyer(browser, shop_server, viewport={"width": 390, "height": 844})

    # Then the composer ends at the bottom edge of the screen (not 118 px above it)
    box = buyer.page.locator(".widget__composer").bounding_box()
    assert box is not None
    assert abs(box["y"] + box["height"] - 844) <= 1, box

    # and many messages scroll inside the widget, keeping the composer in place
    for n in range(12):
        buyer.write(f"消息 {n}")
    expect(buyer.page.locator(".bubble--mine:not(.is-pending)")).to_have_count(12)
    box = buyer.page.locator(".widget__composer").bounding_box()
    assert box is not None
    assert abs(box["y"] + box["height"] - 844) <= 1, box
    assert buyer.page.evaluate("document.documentElement.scrollHeight") <= 845


def test_queue_length_follows_the_queue_without_waiting_for_a_poll(
    browser: Browser, shop_server: Server
):
    # Given 小王 alone online with a max of 1, the page's clock stopped (no timer fires)
    agent = context(browser, shop_server).new_page()
    agent.clock.install()
    online_on_the_workbench(agent, "demo:xiaowang")
    agent.get_by_label("My max concurrent conversations").fill("1")
    agent.get_by_role("button", name="Save").click()
    expect(agent.get_by_text("Saved.")).to_be_visible()
    queue = agent.locator("[data-queue-length]")
    expect(queue).to_have_text("Queue: 0 waiting")

    # When a first buyer takes 小王's slot and a second waits in the queue
    first = Buyer(browser, shop_server)
    first.page.get_by_role("button", name="Talk to a human agent").click()
    expect(first.page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    second = Buyer(browser, shop_server)
    second.page.get_by_role("button", name="Talk to a human agent").click()
    expect(second.page.locator("[data-state-text]")).to_contain_text("number 1 in the queue")
    agent.clock.run_for(6_000)  # (arrivals reach agents' sockets no event yet: the fallback)
    expect(queue).to_have_text("Queue: 1 waiting")

    # When 小王 ends the first conversation (confirming), the waiting buyer takes the slot
    agent.locator("[data-conversation-list] .conv").click()
    agent.locator("[data-chat-end]").click()
    agent.locator("[data-end-dialog]").get_by_role("button", name="End conversation").click()
    expect(second.page.locator("[data-state-text]")).to_have_text("An agent is with you.")

    # Then the queue length follows at once, the clock still stopped
    expect(queue).to_have_text("Queue: 0 waiting")
