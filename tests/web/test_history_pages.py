"""History pages (SPEC E6): who sees what, the buyer search across agents, the read-only view
with internal notes; other shops' conversations answer 404."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle
from apps.conversations.models import Conversation
from apps.conversations.notes import internal_note_add
from apps.routing.models import AgentStatus
from apps.shopdata.models import Buyer
from conftest import ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db


def _chat(kit: ShopKit, external_id: str, name: str, agent_text: str = "") -> Conversation:
    """A buyer asks for a human and is assigned to whoever is online; the agent answers."""
    buyer = Buyer.objects.create(shop=kit.shop, external_id=external_id, name=name)
    conv = lifecycle.conversation_open(buyer=buyer)
    conv = lifecycle.request_human(conversation=conv)
    lifecycle.buyer_message_send(buyer=buyer, entrance="", body=f"hello from {name}")
    if agent_text and conv.agent is not None:
        lifecycle.agent_message_send(account=conv.agent, conversation=conv, body=agent_text)
    return conv


@pytest.fixture
def desk(shop_a: ShopKit) -> dict[str, object]:
    amy = shop_a.sub("amy", {Perm.CHAT})
    bob = shop_a.sub("bob", {Perm.CHAT})
    boss = shop_a.sub("boss", {Perm.VIEW_ALL_HISTORY})
    lifecycle.agent_set_status(account=amy, status=AgentStatus.ONLINE)
    first = _chat(shop_a, "b-100", "Lily Chen", "<img src=x onerror=alert(1)>")
    lifecycle.agent_set_status(account=amy, status=AgentStatus.OFFLINE)
    lifecycle.agent_set_status(account=bob, status=AgentStatus.ONLINE)
    second = _chat(shop_a, "b-200", "Wang Wei", "hi Wang")
    return {"amy": amy, "bob": bob, "boss": boss, "first": first, "second": second}


def test_an_agent_sees_only_the_conversations_it_took_part_in(desk: dict) -> None:
    page = signed_in(desk["amy"]).get("/history/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lily Chen" in html and "Wang Wei" not in html
    assert 'name="agent"' not in html  # no search across agents without view_all_history


def test_view_all_history_searches_a_buyer_across_agents(desk: dict) -> None:
    client = signed_in(desk["boss"])
    html = client.get("/history/").content.decode()
    assert "Lily Chen" in html and "Wang Wei" in html
    found = client.get("/history/", {"q": "b-200"}).content.decode()
    assert "Wang Wei" in found and "Lily Chen" not in found
    by_name = client.get("/history/", {"q": "lily"}).content.decode()
    assert "Lily Chen" in by_name and "Wang Wei" not in by_name
    by_agent = client.get("/history/", {"agent": desk["bob"].pk}).content.decode()
    assert "Wang Wei" in by_agent and "Lily Chen" not in by_agent


def test_bad_dates_are_said_beside_their_field_and_the_rest_still_filters(desk: dict) -> None:
    client = signed_in(desk["boss"])
    html = client.get(
        "/history/", {"q": "b-100", "date_from": "2026-02-10", "date_to": "2026-02-01"}
    ).content.decode()
    assert "The end date is before the start date." in html
    html = client.get("/history/", {"q": "b-100", "date_from": "yesterday"}).content.decode()
    assert "Enter a valid date." in html and "Lily Chen" in html


def test_days_are_the_shops(shop_a: ShopKit) -> None:
    shop_a.shop.time_zone = "Asia/Shanghai"
    shop_a.shop.save(update_fields=["time_zone"])
    boss = shop_a.sub("boss", {Perm.VIEW_ALL_HISTORY})
    # 23:30 UTC on 1 March is 07:30 on 2 March in Shanghai
    with time_machine.travel(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), tick=False):
        buyer = Buyer.objects.create(shop=shop_a.shop, external_id="late", name="Late Buyer")
        lifecycle.conversation_open(buyer=buyer)
    client = signed_in(boss)
    on_second = client.get("/history/", {"date_from": "2026-03-02", "date_to": "2026-03-02"})
    on_first = client.get("/history/", {"date_from": "2026-03-01", "date_to": "2026-03-01"})
    assert "Late Buyer" in on_second.content.decode()
    assert "Late Buyer" not in on_first.content.decode()


def test_the_conversation_page_is_read_only_escaped_and_shows_notes(desk: dict) -> None:
    conv = desk["first"]
    internal_note_add(conversation=conv, author=desk["amy"], body="VIP, handle <b>gently</b>")
    page = signed_in(desk["amy"]).get(f"/history/{conv.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "hello from Lily Chen" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "VIP, handle &lt;b&gt;gently&lt;/b&gt;" in html
    assert "<textarea" not in html and 'method="post"' not in html.split("<main", 1)[1]


def test_others_conversations_answer_404(desk: dict, shop_b: ShopKit) -> None:
    assert signed_in(desk["amy"]).get(f"/history/{desk['second'].pk}/").status_code == 404
    stranger = shop_b.sub("eve", {Perm.VIEW_ALL_HISTORY})
    client = signed_in(stranger)
    assert client.get(f"/history/{desk['first'].pk}/").status_code == 404
    assert "Lily Chen" not in client.get("/history/", {"q": "b-100"}).content.decode()
    assert client.get("/history/", {"agent": desk["amy"].pk}).status_code == 200


def test_signed_out_goes_to_the_login_page() -> None:
    from django.test import Client

    response = Client().get("/history/")
    assert response.status_code == 302 and "/login/" in response["Location"]
