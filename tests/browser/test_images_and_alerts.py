"""Images, recall, the message pool and alerts in a real browser over real WebSockets (SPEC I1,
I2, I4, B11, E2): a buyer's phone photo reaches the agent's workbench as a thumbnail without its
EXIF, and the agent's image reaches the widget (fetched with the buyer's header into a blob:
URL); files the limits refuse never leave the widget; one's own message is recalled on both
pages; a pooled conversation is claimed from the workbench; an agent whose tab is in the
background hears, sees a desktop notification and a count in the tab title, and so does the
buyer's tab title.

Each test has a demo shop of its own (a uvicorn process, as tests/browser/test_realtime_pages.py
starts it), since agents' statuses and conversations outlive a test."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import ExifTags, Image
from playwright.sync_api import Browser, Page, Request, expect

from tests.browser.test_realtime_pages import (  # the browser fixture and the page helpers
    browser,
    context,
    online_on_the_workbench,
    sign_in,
)
from tests.browser.test_workbench_widget_fixes import Buyer, shop_server, token_of
from tests.realtime.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shop_server"]

MB = 1024 * 1024


def jpeg_with_exif(size: tuple[int, int] = (640, 480)) -> bytes:
    """A photo as a phone sends it: camera make and model, a GPS position."""
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1] // 4))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretPhone"
    exif[ExifTags.Base.Model] = "Model X-Private"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the test photo really carries them
        assert check.getexif()[ExifTags.Base.Make] == "SecretPhone"
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def png(size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 160, 90)).save(out, "PNG")
    return out.getvalue()


def choose_file(page: Page, name: str, mime: str, data: bytes) -> None:
    """Picks a file through the composer's attach button, as a person would."""
    with page.expect_file_chooser() as chooser:
        page.locator("[data-image-attach]").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def loaded(page: Page, selector: str) -> None:
    """The image at ``selector`` has been decoded (its pixels arrived)."""
    page.wait_for_function(
        "(s) => { const i = document.querySelector(s); "
        "return i && i.complete && i.naturalWidth > 0 }",
        arg=selector,
        timeout=10_000,
    )


def chatting(browser: Browser, server: Server) -> tuple[Page, Buyer]:
    """小王 online on the workbench, chatting with a buyer on the phone widget."""
    agent = context(browser, server).new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    buyer = Buyer(browser, server)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    buyer.write("你好")
    agent.locator("[data-conversation-list] .conv").click()
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text("你好")
    return agent, buyer


def test_buyers_photo_shows_as_a_thumbnail_for_the_agent_without_its_exif(
    browser: Browser, shop_server: Server
):
    # SPEC I1. Given an agent and a buyer chatting
    agent, buyer = chatting(browser, shop_server)

    # When the buyer sends a phone photo carrying its camera and GPS position
    choose_file(buyer.page, "photo.jpg", "image/jpeg", jpeg_with_exif())

    # Then the agent's chat shows it as a thumbnail (a plain <img> with the staff session)
    thumb = "[data-chat-messages] .bubble--buyer img.bubble__thumbnail"
    expect(agent.locator(thumb)).to_have_count(1)
    loaded(agent, thumb)
    src = agent.locator(thumb).get_attribute("src") or ""
    assert re.search(r"/api/v1/attachments/\d+/thumbnail/$", src), src
    # and the buyer's own copy, read with its header into a blob: URL
    mine = ".bubble--mine img.bubble__thumbnail"
    expect(buyer.page.locator(mine)).to_have_count(1)
    loaded(buyer.page, mine)
    assert (buyer.page.locator(mine).get_attribute("src") or "").startswith("blob:")
    expect(buyer.page.locator(".bubble--mine.is-pending")).to_have_count(0)

    # and the thumbnail opens the full image
    agent.locator("[data-chat-messages] .bubble__image").click()
    expect(agent.locator("dialog.image-viewer")).to_be_visible()
    loaded(agent, "dialog.image-viewer img")
    full = agent.locator("dialog.image-viewer img").get_attribute("src") or ""
    assert re.search(r"/api/v1/attachments/\d+/$", full), full
    agent.get_by_role("button", name="Close").click()
    expect(agent.locator("dialog.image-viewer")).to_be_hidden()

    # and the stored file, read with the staff session, has the pixels and no EXIF at all
    stored = agent.request.get(full)
    assert stored.status == 200
    with Image.open(io.BytesIO(stored.body())) as image:
        assert image.format == "JPEG" and image.size == (640, 480)
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info

    # When the agent sends an image too
    choose_file(agent, "chart.png", "image/png", png())

    # Then the buyer sees its thumbnail through a blob: URL, and can open it
    theirs = ".bubble--agent img.bubble__thumbnail"
    expect(buyer.page.locator(theirs)).to_have_count(1)
    loaded(buyer.page, theirs)
    assert (buyer.page.locator(theirs).get_attribute("src") or "").startswith("blob:")
    buyer.page.locator(".bubble--agent .bubble__image").click()
    viewer = buyer.page.locator("dialog.image-viewer img")
    loaded(buyer.page, "dialog.image-viewer img")
    assert (viewer.get_attribute("src") or "").startswith("blob:")
    # (without the buyer's header the file answers nobody)
    anonymous = buyer.page.request.get(full)
    assert anonymous.status in (401, 403, 404)


def test_too_large_and_non_image_files_are_refused_in_the_widget_and_nothing_is_sent(
    browser: Browser, shop_server: Server
):
    # SPEC I1. Given a buyer in the widget, its uploads watched
    buyer = Buyer(browser, shop_server)
    uploads: list[Request] = []
    buyer.page.on("request", lambda r: uploads.append(r) if "/images/" in r.url else None)
    feedback = buyer.page.locator("[data-feedback]")

    # When it chooses a 12 MB photo
    choose_file(buyer.page, "huge.jpg", "image/jpeg", b"\xff\xd8\xff" + b"\0" * (12 * MB))
    # Then it is refused at once, with the limit
    expect(feedback).to_have_text("An image is at most 10 MB.")

    # When it chooses a file that is no image
    choose_file(buyer.page, "notes.txt", "text/plain", b"not an image")
    # Then it is refused with the accepted kinds
    expect(feedback).to_have_text("Send a JPEG, PNG or WebP image.")

    # and nothing was sent: no request, no bubble, no message stored
    buyer.page.wait_for_timeout(500)
    assert uploads == []
    expect(buyer.page.locator(".bubble--image")).to_have_count(0)
    messages = buyer.api("GET", "conversation/messages/?after_seq=0")["results"]
    assert [m for m in messages if m["kind"] == "image"] == []

    # When a file claims to be a JPEG but is not one, the server's refusal is shown
    choose_file(buyer.page, "fake.jpg", "image/jpeg", b"\xff\xd8 not really a jpeg")
    expect(feedback).to_have_text("The image was not sent: Send a JPEG, PNG or WebP image.")
    expect(buyer.page.locator(".bubble.is-failed")).to_have_count(1)
    messages = buyer.api("GET", "conversation/messages/?after_seq=0")["results"]
    assert [m for m in messages if m["kind"] == "image"] == []


def test_own_messages_are_recalled_within_two_minutes_on_both_pages(
    browser: Browser, shop_server: Server
):
    # SPEC I1. Given an agent and a buyer chatting
    agent, buyer = chatting(browser, shop_server)
    agent_bubble = agent.locator("[data-chat-messages] .bubble--buyer").first
    buyer_bubble = buyer.page.locator(".bubble--mine").first

    # Then the buyer may recall its own message, the agent may not recall the buyer's
    expect(buyer_bubble.get_by_role("button", name="Recall")).to_be_visible()
    expect(agent_bubble.get_by_role("button", name="Recall")).to_have_count(0)

    # When the buyer recalls it
    buyer_bubble.get_by_role("button", name="Recall").click()

    # Then both pages show it recalled, its text gone
    expect(buyer_bubble.locator(".bubble__recalled")).to_have_text("Message recalled")
    expect(agent_bubble.locator(".bubble__recalled")).to_have_text("Message recalled")
    expect(agent.locator("[data-chat-messages]")).not_to_contain_text("你好")

    # When the agent answers and recalls its own reply
    agent.get_by_label("Your reply").fill("稍等, 我查一下")
    agent.get_by_label("Your reply").press("Enter")
    expect(buyer.page.locator(".bubble--agent p").last).to_have_text("稍等, 我查一下")
    mine = agent.locator("[data-chat-messages] .bubble--mine").last
    expect(mine).not_to_have_class(re.compile("is-pending"))
    mine.get_by_role("button", name="Recall").click()

    # Then both pages show "Message recalled" in its place
    expect(mine.locator(".bubble__recalled")).to_have_text("Message recalled")
    expect(buyer.page.locator(".bubble--agent").last.locator(".bubble__recalled")).to_have_text(
        "Message recalled"
    )
    expect(buyer.page.locator(".widget__messages")).not_to_contain_text("稍等")

    # and so does the history, read again
    agent.reload()
    agent.locator("[data-conversation-list] .conv").click()
    expect(agent.locator("[data-chat-messages] .bubble__recalled")).to_have_count(2)
    assert agent.locator("[data-chat-messages] .bubble--recalled .bubble__recall").count() == 0


def test_pooled_conversation_is_claimed_from_the_workbench(browser: Browser, shop_server: Server):
    # SPEC B11, E2. Given a shop that pools conversations when nobody is online, handing
    # nothing out by itself, and two buyers who left messages in the pool
    owner = f"Token {token_of(shop_server, 'demo')}"
    shop_server.api(
        "PATCH", "/api/v1/settings/", {"offline_handling": "pool", "pool_auto_assign": False}, owner
    )
    buyers = []
    for text in ("第一个留言", "第二个留言"):
        buyer = Buyer(browser, shop_server)
        buyer.page.get_by_role("button", name="Talk to a human agent").click()
        expect(buyer.page.locator("[data-state-text]")).to_contain_text("Leave your message")
        buyer.write(text)
        expect(buyer.page.locator(".bubble--mine:not(.is-pending) p").last).to_have_text(text)
        buyers.append(buyer)
    first_id = buyers[0].api("GET", "conversation/")["id"]
    second_id = buyers[1].api("GET", "conversation/")["id"]

    # When 小王 opens the workbench, still offline
    agent = context(browser, shop_server).new_page()
    sign_in(agent, "demo:xiaowang")
    expect(agent.locator("[data-connection-text]")).to_have_text("Connected")

    # Then the pool lists both, oldest first, each with a Claim button
    pool = agent.locator("[data-pool]")
    expect(pool.locator(".pool__item")).to_have_count(2)
    assert pool.locator(".pool__item").first.get_attribute("data-pool-id") == str(first_id)
    # and a claim while offline is refused (409) with the server's reason, nothing claimed
    pool.locator(f'[data-pool-id="{first_id}"]').get_by_role("button", name="Claim").click()
    feedback = pool.locator("[data-pool-feedback]")
    expect(feedback).to_have_text("Not claimed: Go online to claim conversations.")
    expect(pool.locator(".pool__item")).to_have_count(2)
    expect(agent.locator("[data-conversation-list] .conv")).to_have_count(0)

    # When 小王 goes online, and 小李 claims the second one first (elsewhere)
    agent.locator("label[for=status-online]").click()
    expect(agent.locator("#status-online")).to_be_checked()
    colleague = f"Token {token_of(shop_server, 'demo:xiaoli')}"
    shop_server.api("POST", "/api/v1/me/status/", {"status": "online"}, colleague)
    shop_server.api("POST", f"/api/v1/conversations/{second_id}/claim/", None, colleague)
    # and 小王 tries to claim it too
    pool.locator(f'[data-pool-id="{second_id}"]').get_by_role("button", name="Claim").click()

    # Then 小王 reads the server's answer (it is no longer in the pool, so no longer visible
    # to 小王), and the pool shows only what is left
    expect(feedback).to_have_text("Not claimed: No such conversation.")
    expect(pool.locator(".pool__item")).to_have_count(1)

    # When 小王 claims the first one
    pool.get_by_role("button", name="Claim").click()

    # Then its chat opens with the buyer's message, and the pool is empty
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text("第一个留言")
    expect(agent.locator("[data-conversation-list] .conv")).to_have_count(1)
    expect(pool.locator(".pool__item")).to_have_count(0)
    expect(pool.locator("[data-pool-empty]")).to_be_visible()
    # and the buyer has its agent, the conversation marked as from an offline message
    expect(buyers[0].page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    assert buyers[0].api("GET", "conversation/")["from_offline_message"] is True
    agent.get_by_label("Your reply").fill("您好, 看到您的留言了")
    agent.get_by_label("Your reply").press("Enter")
    expect(buyers[0].page.locator(".bubble--agent p").last).to_have_text("您好, 看到您的留言了")


RECORD_NOTIFICATIONS = """
(() => {
  window.__notes = [];
  window.__asks = 0;
  const Real = window.Notification;
  if (!Real) return;
  function Recorded(title, options) {
    window.__notes.push({ title: title, body: (options || {}).body || "" });
    try { return new Real(title, options); } catch (e) { return { close() {} }; }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = function (...args) {
    window.__asks += 1;
    return Real.requestPermission(...args);
  };
  window.Notification = Recorded;
})();
"""


def set_hidden(page: Page, hidden: bool) -> None:
    """The page as a browser shows it when its tab goes to the background (or comes back)."""
    page.evaluate(
        """(hidden) => {
             Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
             Object.defineProperty(document, "visibilityState", {
               configurable: true, get: () => (hidden ? "hidden" : "visible") });
             document.dispatchEvent(new Event("visibilitychange"));
           }""",
        hidden,
    )


def test_background_tab_alerts_the_agent_and_counts_unread_in_both_titles(
    browser: Browser, shop_server: Server
):
    # SPEC I4, I2. Given an agent whose browser allows notifications (recorded), never asked
    # on load, chatting with a buyer
    ctx = context(browser, shop_server)
    ctx.grant_permissions(["notifications"], origin=shop_server.base)
    ctx.add_init_script(RECORD_NOTIFICATIONS)
    agent = ctx.new_page()
    online_on_the_workbench(agent, "demo:xiaowang")
    assert agent.evaluate("window.__asks") == 0
    toggles = agent.locator("[data-alerts]")
    expect(toggles.get_by_label("Sound")).to_be_checked()
    expect(toggles.get_by_label("Unread count in the tab title")).to_be_checked()
    expect(toggles.get_by_label("Desktop notifications")).not_to_be_checked()
    buyer = Buyer(browser, shop_server)
    buyer.page.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.page.locator("[data-state-text]")).to_have_text("An agent is with you.")
    expect(agent.locator("[data-conversation-list] .conv")).to_have_count(1)

    # When the agent turns desktop notifications on (remembered in this browser)
    toggles.get_by_label("Desktop notifications").check()
    expect(toggles.get_by_label("Desktop notifications")).to_be_checked()
    assert agent.evaluate("localStorage.length") > 0

    # and its tab goes to the background while the buyer writes twice
    title = agent.title()
    set_hidden(agent, True)
    buyer.write("在吗?")
    expect(agent).to_have_title("(1) " + title)
    buyer.write("急, 谢谢")
    expect(agent).to_have_title("(2) " + title)

    # Then a desktop notification names the buyer and the message, and it beeped
    notes: list[dict[str, Any]] = agent.evaluate("window.__notes")
    assert [n["body"] for n in notes] == ["在吗?", "急, 谢谢"]
    assert all(n["title"].startswith("New message from ") for n in notes)
    assert agent.evaluate("window.__helpdeskBeeps") == 2

    # When the tab is in front again, the title's count goes
    set_hidden(agent, False)
    expect(agent).to_have_title(title)

    # When the agent turns all three off (remembered after a reload), nothing more alerts
    for label in ("Sound", "Desktop notifications", "Unread count in the tab title"):
        toggles.get_by_label(label).uncheck()
    agent.reload()
    expect(agent.locator("[data-connection-text]")).to_have_text("Connected")
    for label in ("Sound", "Desktop notifications", "Unread count in the tab title"):
        expect(toggles.get_by_label(label)).not_to_be_checked()
    set_hidden(agent, True)
    buyer.write("还在吗?")
    expect(agent.locator(".conv__preview")).to_have_text("还在吗?")
    agent.wait_for_timeout(300)
    assert agent.title() == title
    assert agent.evaluate("window.__notes") == []
    assert agent.evaluate("window.__helpdeskBeeps || 0") == 0
    assert agent.evaluate("window.__asks") == 0

    # Given the buyer left the widget's tab (I2)
    buyer_title = buyer.page.title()
    set_hidden(buyer.page, True)
    # When the agent writes
    set_hidden(agent, False)
    agent.locator("[data-conversation-list] .conv").click()
    agent.get_by_label("Your reply").fill("在的")
    agent.get_by_label("Your reply").press("Enter")
    # Then the widget's tab title counts it, until the buyer is back
    expect(buyer.page).to_have_title("(1) " + buyer_title)
    set_hidden(buyer.page, False)
    expect(buyer.page).to_have_title(buyer_title)
