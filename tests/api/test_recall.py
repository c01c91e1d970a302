"""Recalling one's own message within 2 minutes (SPEC I1), from both sides: what each side then
sees in the API and the streams, and who may not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from apps.accounts.permissions import Perm
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Message
from apps.events.models import Event
from apps.routing.models import AgentStatus
from conftest import ShopKit
from tests.api.test_images import WIDGET_IMAGES, WIDGET_MESSAGES, Chat, start_chat, upload
from tests.api.test_images import image_bytes as make_image

pytestmark = pytest.mark.django_db

# A Monday, 10:00 in Shanghai: inside the default business hours.
T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock(settings: Any, tmp_path: Path) -> Iterator[time_machine.Coordinates]:
    """The clock stands still at T0 until the test moves it; files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def chat(shop_a: ShopKit, clock: time_machine.Coordinates) -> Chat:
    return start_chat(shop_a)


def buyer_recall(message_id: int) -> str:
    return f"/api/v1/widget/conversation/messages/{message_id}/recall/"


def staff_recall(chat: Chat, message_id: int) -> str:
    return f"/api/v1/conversations/{chat.conversation.pk}/messages/{message_id}/recall/"


def buyer_says(chat: Chat, body: str = "my phone is 138 0000 0000") -> dict[str, Any]:
    response = chat.buyer.post(WIDGET_MESSAGES, {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def agent_says(chat: Chat, body: str = "sorry, wrong customer") -> dict[str, Any]:
    response = chat.staff.post(chat.staff_messages, {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def as_listed(chat: Chat, message_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The message as the buyer's and the agent's message lists show it."""
    buyer = next(
        m for m in chat.buyer.get(WIDGET_MESSAGES).json()["results"] if m["id"] == message_id
    )
    staff = next(
        m for m in chat.staff.get(chat.staff_messages).json()["results"] if m["id"] == message_id
    )
    return buyer, staff


def updates(message_id: int) -> set[tuple[str, int]]:
    return {
        (e.recipient_kind, e.recipient_id)
        for e in Event.objects.filter(type="message.updated", payload__id=message_id)
    }


def test_buyer_recalls_its_message_and_both_sides_see_it_recalled(chat: Chat, clock: Any):
    # SPEC I1: given a message the buyer regrets
    said = buyer_says(chat)
    # when it recalls it 119 seconds later
    clock.shift(119)
    response = chat.buyer.post(buyer_recall(said["id"]))
    # then the answer shows it recalled: no body
    assert response.status_code == 200, response.content
    recalled = response.json()
    assert recalled["recalled"] is True and recalled["body"] == ""
    assert recalled["image"] is None and recalled.get("card") is None
    assert {k: v for k, v in recalled.items() if k not in ("recalled", "body")} == {
        k: v for k, v in said.items() if k not in ("recalled", "body")
    }
    # and both sides got message.updated with that same message
    buyer_id = chat.conversation.buyer_id
    assert updates(said["id"]) == {("buyer", buyer_id), ("account", chat.agent.pk)}
    for event in Event.objects.filter(type="message.updated"):
        assert event.payload == recalled
    # and both message lists show it recalled, in its place
    assert as_listed(chat, said["id"]) == (recalled, recalled)
    # and the row keeps the body for the shop's audit
    stored = Message.objects.get(pk=said["id"])
    assert stored.body == "my phone is 138 0000 0000" and stored.recalled_at is not None
    # a repeat answers the same, and tells nobody again
    again = chat.buyer.post(buyer_recall(said["id"]))
    assert again.status_code == 200 and again.json() == recalled
    assert Event.objects.filter(type="message.updated").count() == 2


def test_after_two_minutes_a_message_can_no_longer_be_recalled(chat: Chat, clock: Any):
    # SPEC I1: two minutes and a second after sending
    said = buyer_says(chat)
    mine = agent_says(chat)
    clock.shift(121)
    # then 409 for both sides, and nothing changes
    assert chat.buyer.post(buyer_recall(said["id"])).status_code == 409
    assert chat.staff.post(staff_recall(chat, mine["id"])).status_code == 409
    assert not Message.objects.filter(recalled_at__isnull=False).exists()
    assert not Event.objects.filter(type="message.updated").exists()
    assert as_listed(chat, said["id"])[0]["body"] == "my phone is 138 0000 0000"


def test_the_agent_recalls_its_own_message(chat: Chat, clock: Any):
    mine = agent_says(chat)
    clock.shift(60)
    response = chat.staff.post(staff_recall(chat, mine["id"]))
    assert response.status_code == 200, response.content
    assert response.json()["recalled"] is True and response.json()["body"] == ""
    assert updates(mine["id"]) == {
        ("buyer", chat.conversation.buyer_id),
        ("account", chat.agent.pk),
    }
    buyer_view, staff_view = as_listed(chat, mine["id"])
    assert buyer_view["recalled"] and staff_view["recalled"] and not buyer_view["body"]


def test_nobody_recalls_someone_elses_message(chat: Chat, shop_a: ShopKit, shop_b: ShopKit):
    said = buyer_says(chat)
    mine = agent_says(chat)
    supervisor = shop_a.sub("supervisor", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    # the other side's message: 403
    assert chat.staff.post(staff_recall(chat, said["id"])).status_code == 403
    assert chat.buyer.post(buyer_recall(mine["id"])).status_code == 403
    # a colleague who sees the conversation, the main account included: 403 (not theirs)
    for client in (shop_a.client(supervisor), shop_a.client()):
        assert client.post(staff_recall(chat, mine["id"])).status_code == 403
    # a colleague who may not see the conversation: 404
    outsider = shop_a.sub("outsider", {Perm.CHAT})
    assert shop_a.client(outsider).post(staff_recall(chat, mine["id"])).status_code == 404
    # another buyer of the shop, and another shop's buyer and staff: 404
    second = shop_a.sub("agent2", {Perm.CHAT})
    agent_set_status(account=chat.agent, status=AgentStatus.PAUSED)
    agent_set_status(account=second, status=AgentStatus.ONLINE)
    other_buyer = start_chat(shop_a, "b-2", agent=second)
    b_agent = shop_b.sub("agent-b", {Perm.CHAT})
    agent_set_status(account=b_agent, status=AgentStatus.ONLINE)
    foreign = start_chat(shop_b, "b-1", agent=b_agent)
    assert other_buyer.buyer.post(buyer_recall(said["id"])).status_code == 404
    assert foreign.buyer.post(buyer_recall(said["id"])).status_code == 404
    for client in (shop_b.client(), foreign.staff):
        assert client.post(staff_recall(chat, mine["id"])).status_code == 404
        # their own conversation with a message of shop A: 404 too
        url = f"/api/v1/conversations/{foreign.conversation.pk}/messages/{mine['id']}/recall/"
        assert client.post(url).status_code == 404
    # a message id from another conversation of the same agent: 404
    url = f"/api/v1/conversations/{other_buyer.conversation.pk}/messages/{mine['id']}/recall/"
    assert other_buyer.staff.post(url).status_code == 404
    # and nothing was recalled, nobody was told
    assert not Message.objects.filter(recalled_at__isnull=False).exists()
    assert not Event.objects.filter(type="message.updated").exists()


def test_a_recalled_image_is_gone_for_both_sides(chat: Chat, clock: Any):
    sent = chat.buyer.post(
        WIDGET_IMAGES, {"image": upload(make_image("PNG"), "a.png")}, format="multipart"
    )
    assert sent.status_code == 201, sent.content
    image = sent.json()["image"]
    assert chat.staff.get(image["url"]).status_code == 200
    clock.shift(30)
    response = chat.buyer.post(buyer_recall(sent.json()["id"]))
    assert response.status_code == 200
    assert response.json()["image"] is None and response.json()["kind"] == "image"
    buyer_view, staff_view = as_listed(chat, sent.json()["id"])
    assert buyer_view["image"] is None and staff_view["image"] is None
    for client in (chat.buyer, chat.staff):
        assert client.get(image["url"]).status_code == 404
        assert client.get(image["thumbnail_url"]).status_code == 404
