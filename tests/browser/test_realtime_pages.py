"""The workbench and the buyer widget in a real browser over real WebSockets (SPEC E1, E2, F2-F4):
Debian Chromium through Playwright against a uvicorn process serving the demo shop (pytest-django's
live server has no WebSockets). An agent goes online; buyers ask for a human from the mobile
widget, one waits in the queue; messages cross both ways in real time; the agent sees unread
counts and waiting times turn yellow and red, ends the chat with Esc (confirmed), and the buyer
rates it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from apps.web.demo import DEMO_PASSWORD
from tests.realtime.servers import (
    BASE_DIR,
    Server,
    clean_env,
    server_database,
    server_redis,
    uvicorn_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 780}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (Debian's chromium package).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def context(browser: Browser, server: Server, **options: object) -> BrowserContext:
    ctx = browser.new_context(base_url=server.base, locale="en-US", **options)  # type: ignore[arg-type]
    ctx.set_default_timeout(10_000)
    return ctx


def sign_in(page: Page, login: str) -> None:
    """Sign ``login`` in with the demo password; it lands on the workbench."""
    page.goto("/login/")
    page.get_by_label("Login name").fill(login)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/workbench/$"))


def signed_in_owner(browser: Browser, server: Server, **options: object) -> Page:
    """A new page of the demo shop's main account, signed in."""
    page = context(browser, server, **options).new_page()
    sign_in(page, "demo")
    return page


def online_on_the_workbench(page: Page, login: str) -> None:
    """Sign ``login`` in (the demo password), wait for the workbench's socket, go online."""
    sign_in(page, login)
    expect(page.locator("[data-connection-text]")).to_have_text("Connected")
    page.locator("label[for=status-online]").click()
    expect(page.locator("#status-online")).to_be_checked()
    # the switch is disabled until the server answered: then the account is online for others
    expect(page.locator("#status-online")).to_be_enabled()


def buyer_page(browser: Browser, server: Server) -> Page:
    page = context(browser, server, viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.goto("/demo/widget/")
    expect(page.locator("[data-state-text]")).to_have_text(
        "You are chatting with the service assistant."
    )
    return page


def test_agent_and_buyers_chat_live_with_queue_waiting_times_and_rating(
    browser: Browser, demo_server: Server
):
    # Given 小王 of the demo shop, signed in on the workbench with a fake clock, online, max 1
    agent = context(browser, demo_server).new_page()
    agent.clock.install()
    online_on_the_workbench(agent, "demo:xiaowang")
    agent.get_by_label("My max concurrent conversations").fill("1")
    agent.get_by_role("button", name="Save").click()
    expect(agent.get_by_text("Saved.")).to_be_visible()

    # When a buyer on a phone asks for a human (F2)
    buyer = buyer_page(browser, demo_server)
    expect(buyer.locator(".bubble--assistant").first).to_be_visible()  # the assistant greets
    buyer.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.locator("[data-state-text]")).to_have_text("An agent is with you.")
    expect(buyer.get_by_role("button", name="Talk to a human agent")).to_be_hidden()
    expect(buyer.locator("[data-rating]")).to_be_hidden()

    # Then the conversation appears on the workbench at once (E1)
    item = agent.locator("[data-conversation-list] .conv")
    expect(item).to_have_count(1)
    expect(agent.locator("[data-open-count]")).to_have_text("1")  # its load, live

    # When the buyer writes, the agent sees it unread and waiting, grey, yellow, red (E1)
    buyer.get_by_label("Your message").fill("你好, 这个杯子有货吗?")
    buyer.get_by_role("button", name="Send").click()
    expect(buyer.locator(".bubble--mine p")).to_have_text("你好, 这个杯子有货吗?")
    expect(item.locator(".conv__unread")).to_have_text("1 unread")
    expect(item.locator(".conv__wait")).to_have_class(re.compile("wait--grey"))
    agent.clock.fast_forward(65_000)
    expect(item.locator(".conv__wait")).to_have_class(re.compile("wait--yellow"))
    agent.clock.fast_forward(60_000)
    expect(item.locator(".conv__wait")).to_have_class(re.compile("wait--red"))

    # When the agent opens it: the history comes from REST, unread is cleared (E2)
    item.click()
    expect(agent.locator("[data-chat-messages] .bubble--buyer p")).to_have_text(
        "你好, 这个杯子有货吗?"
    )
    expect(item.locator(".conv__unread")).to_have_count(0)

    # and answers over the socket: the buyer gets it live, and the waiting badge goes
    agent.get_by_label("Your reply").fill("有货的, 今天下单明天发货。")
    agent.get_by_label("Your reply").press("Enter")
    # (the first of the agent's bubbles is the welcome sent in its name, SPEC D1)
    expect(agent.locator("[data-chat-messages] .bubble--mine p")).to_have_count(2)
    expect(agent.locator("[data-chat-messages] .bubble--mine p").last).to_have_text(
        "有货的, 今天下单明天发货。"
    )
    expect(buyer.locator(".bubble--agent p").last).to_have_text("有货的, 今天下单明天发货。")
    expect(item.locator(".conv__wait")).to_be_hidden()

    # A second buyer finds the agent full and waits in the queue, with a refresh (C5, F2)
    second = buyer_page(browser, demo_server)
    second.get_by_role("button", name="Talk to a human agent").click()
    expect(second.locator("[data-state-text]")).to_contain_text("number 1 in the queue")
    second.get_by_role("button", name="Refresh").click()
    expect(second.locator("[data-state-text]")).to_contain_text("number 1 in the queue")

    # When the agent ends the first conversation with Esc (E2), out of the reply box (never
    # while writing, amended), and confirms
    agent.get_by_label("Your reply").blur()
    agent.keyboard.press("Escape")
    agent.locator("[data-end-dialog]").get_by_role("button", name="End conversation").click()
    expect(agent.locator("[data-chat-closed]")).to_have_text("This conversation has ended.")

    # Then the first buyer is asked to rate it and does (D4, F4)
    buyer.locator("label[for=score-5]").click()
    buyer.get_by_label("Comment (optional)").fill("很快, 谢谢")
    buyer.get_by_role("button", name="Rate").click()
    expect(buyer.locator("[data-rated]")).to_have_text("Thank you for your rating!")

    # and the freed slot takes the waiting buyer, who is told at once (C3) and can chat
    expect(second.locator("[data-state-text]")).to_have_text("An agent is with you.")
    expect(item).to_have_count(1)
    second.get_by_label("Your message").fill("我也想问一下")
    second.get_by_role("button", name="Send").click()
    expect(item.locator(".conv__preview")).to_have_text("我也想问一下")

    # When 小王 transfers it to 小李, who came online meanwhile (B12, E2)
    login = demo_server.api(
        "POST", "/api/v1/auth/token/", {"username": "demo:xiaoli", "password": DEMO_PASSWORD}
    )
    demo_server.api("POST", "/api/v1/me/status/", {"status": "online"}, f"Token {login['token']}")
    item.click()
    agent.get_by_role("button", name="Transfer").first.click()
    agent.get_by_label("Transfer to").select_option(label="小李 (demo:xiaoli)")
    agent.get_by_label("Note for the receiver").fill("问库存")
    agent.locator("[data-transfer-form] button[type=submit]").click()

    # Then it leaves 小王's list, and the buyer is told
    expect(agent.locator("[data-chat-closed]")).to_have_text("The conversation was transferred.")
    expect(item).to_have_count(0)
    # (in the demo shop's language for buyers, Chinese)
    expect(second.locator(".bubble--system p").last).to_contain_text("转接")
