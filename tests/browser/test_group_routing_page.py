"""Routing groups in a real browser (SPEC B2-B4, G1; issue 9, must show 1, first part): the
demo shop's owner creates a VIP group for the segment ``member:gold`` with 小李 as its only
member; a gold buyer who asks for a human is routed to 小李 (the segment goes before the order
status, B4), not to the online agents of other groups (售后 would take buyers with a paid order)
or of none, and the groups page says the shop is in regular mode."""

from __future__ import annotations

import os
import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, expect

from apps.web.demo import DEMO_PASSWORD
from tests.browser.test_realtime_pages import (  # fixtures: one demo server for this module
    PHONE,
    browser,
    context,
    demo_server,
    online_on_the_workbench,
    signed_in_owner,
)
from tests.realtime.servers import Server
from tests.support.widget import signature as buyer_signature

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "demo_server"]

GOLD_BUYER = "b-001"  # 张三, segments member:gold and region:zhejiang in the demo shop


def token_of(server: Server, login: str) -> str:
    answer = server.api(
        "POST", "/api/v1/auth/token/", {"username": login, "password": DEMO_PASSWORD}
    )
    return f"Token {answer['token']}"


def go_online(server: Server, login: str) -> int:
    """``login`` online through the API (a status call is also a heartbeat); its account id."""
    account = server.api(
        "POST", "/api/v1/me/status/", {"status": "online"}, token_of(server, login)
    )
    return int(account["id"])


def test_a_group_made_on_the_page_receives_the_buyers_of_its_segment(
    browser: Browser, demo_server: Server
):
    # Given a shop whose systems sent buyers with many segments, and the owner on the groups page
    owner_token = token_of(demo_server, "demo")
    for n in range(8):
        demo_server.api(
            "PUT",
            f"/api/v1/buyers/bulk-{n}/",
            {"name": f"Buyer {n}", "segments": [f"region:r{n}"]},
            owner_token,
        )
    owner = signed_in_owner(browser, demo_server)
    owner.goto("/admin/groups/")
    expect(owner.get_by_role("heading", level=1)).to_have_text("Routing groups")

    # When the owner creates VIP for member:gold buyers with 小李 as its member (moving him
    # out of 售前, which the page says)
    owner.get_by_role("link", name="New group").first.click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("New group")
    owner.get_by_label("Name", exact=True).fill("VIP")
    # the long list of segments gets a filter box
    segments = owner.locator("#id_segments label")
    expect(segments).to_have_count(11)
    owner.get_by_label("Filter: Buyer segments").fill("gold")
    expect(owner.locator("#id_segments label:visible")).to_have_count(1)
    owner.get_by_label("Default max concurrent").fill("51")
    owner.get_by_role("checkbox", name="member:gold").check()
    li_row = owner.locator("tr[data-member='demo:xiaoli']")
    expect(li_row).to_contain_text("ticking moves it out of 售前")
    li_row.get_by_role("checkbox", name="小李").check()
    li_row.get_by_label("Weight of 小李").fill("0")
    owner.get_by_role("button", name="Create group").click()

    # Then both mistakes are named at once and the choices made are kept
    summary = owner.locator(".error-summary")
    expect(summary).to_contain_text("Default max concurrent")
    expect(summary).to_contain_text("Weight of 小李")
    expect(owner.get_by_role("checkbox", name="member:gold")).to_be_checked()
    expect(li_row.get_by_role("checkbox", name="小李")).to_be_checked()
    if os.environ.get("GROUPS_SCREENSHOTS"):
        owner.screenshot(path=f"{os.environ['GROUPS_SCREENSHOTS']}/errors.png", full_page=True)

    # When they are put right
    owner.get_by_label("Default max concurrent").fill("3")
    li_row.get_by_label("Weight of 小李").fill("25")
    owner.get_by_role("button", name="Create group").click()

    # Then the list shows the group, its scope in words and its member, in regular mode
    expect(owner).to_have_url(re.compile(r"/admin/groups/$"))
    expect(owner.locator(".message--success")).to_contain_text(
        "The group VIP was saved. Moved into it from another group: 小李."
    )
    row = owner.locator("tr[data-group='VIP']")
    expect(row.locator("[data-scope]")).to_contain_text("member:gold")
    expect(row.locator("[data-members]")).to_contain_text("1 member")
    expect(row.locator("[data-members]")).to_contain_text("小李")
    expect(owner.locator("[data-mode]")).to_have_attribute("data-mode", "regular")
    expect(owner.locator("[data-mode]")).to_contain_text("Regular mode")
    listed = demo_server.api("GET", "/api/v1/groups/", auth=owner_token)
    groups = listed["results"] if isinstance(listed, dict) else listed
    group = next(g for g in groups if g["name"] == "VIP")
    assert group["scope"]["segments"] == ["member:gold"] and group["max_concurrent"] == 3

    # Given 小李 online on his workbench, and online too: 小赵 (售后, whose scope matches the
    # buyer's paid order), 小王 (售前) and the owner (no group)
    agent = context(browser, demo_server).new_page()
    online_on_the_workbench(agent, "demo:xiaoli")
    zhao_id = go_online(demo_server, "demo:xiaozhao")
    wang_id = go_online(demo_server, "demo:xiaowang")
    owner_id = go_online(demo_server, "demo")
    li_id = demo_server.api("GET", "/api/v1/me/", auth=token_of(demo_server, "demo:xiaoli"))["id"]
    assert group["members"] == [li_id]

    # When the gold buyer opens the shop's widget and asks for a human
    settings = demo_server.api("GET", "/api/v1/settings/", auth=owner_token)
    signature = buyer_signature(settings["widget_secret"], GOLD_BUYER)
    buyer = context(browser, demo_server, viewport=PHONE, is_mobile=True).new_page()
    buyer.goto(
        "/widget/demo/?entrance=member#"
        + urlencode({"buyer_id": GOLD_BUYER, "signature": signature})
    )
    expect(buyer.locator("[data-state-text]")).to_have_text(
        "You are chatting with the service assistant."
    )
    buyer.get_by_role("button", name="Talk to a human agent").click()
    expect(buyer.locator("[data-state-text]")).to_have_text("An agent is with you.")

    # Then 小李 has the conversation, live on his workbench, and nobody else does
    expect(agent.locator("[data-conversation-list] .conv")).to_have_count(1)
    conversations = demo_server.api("GET", "/api/v1/conversations/", auth=owner_token)
    rows = conversations["results"] if isinstance(conversations, dict) else conversations
    mine = [c for c in rows if c["buyer"]["external_id"] == GOLD_BUYER and c["state"] == "active"]
    assert len(mine) == 1
    assert mine[0]["agent"] == li_id
    assert mine[0]["agent"] not in (zhao_id, wang_id, owner_id)

    # And on a 390 px phone the list and the group's form fit the screen's width
    phone = context(browser, demo_server, viewport=PHONE, is_mobile=True).new_page()
    phone.goto("/login/")
    phone.get_by_label("Login name").fill("demo")
    phone.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone).to_have_url(re.compile(r"/workbench/$"))
    for url in ("/admin/groups/", f"/admin/groups/{group['id']}/"):
        phone.goto(url)
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        if os.environ.get("GROUPS_SCREENSHOTS"):
            phone.screenshot(
                path=f"{os.environ['GROUPS_SCREENSHOTS']}/{url.strip('/').replace('/', '-')}.png",
                full_page=True,
            )
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (url, width)
