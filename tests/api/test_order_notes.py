"""Order notes (SPEC E4; API.md, ``GET, POST /orders/{external_id}/notes/``): at most 60
characters with a flag colour, the newest is the current note, the history is shared by the
shop's staff."""

from __future__ import annotations

import pytest

from apps.accounts.permissions import Perm
from apps.shopdata.models import OrderNote
from tests.api.panel_support import push_buyer, push_order, served

pytestmark = pytest.mark.django_db

NOTES = "/api/v1/orders/o-1/notes/"


@pytest.fixture
def shop_data(shop_a):
    push_buyer(shop_a, "b-1")
    push_order(shop_a, "o-1", "b-1")
    return shop_a


def test_a_new_note_becomes_the_current_one_and_the_history_is_newest_first(shop_data):
    # SPEC E4: editable, with a history shared by the shop's agents
    client = shop_data.client()
    first = client.post(NOTES, {"text": "买家要求改地址"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["flag"] == "grey"  # the default
    assert first.json()["author"] == shop_data.main.pk
    second = client.post(NOTES, {"text": "已改地址", "flag": "green"}, format="json")
    assert second.status_code == 201
    history = client.get(NOTES)
    assert history.status_code == 200
    results = history.json()["results"]
    assert [(n["text"], n["flag"]) for n in results] == [
        ("已改地址", "green"),
        ("买家要求改地址", "grey"),
    ]
    assert set(results[0]) == {"text", "flag", "author", "author_name", "created_at"}
    assert history.json()["count"] == 2


def test_sixty_characters_are_a_note_and_sixty_one_are_refused(shop_data):
    # SPEC E4: at most 60 characters; 61 is 400 with a readable message, nothing written
    client = shop_data.client()
    assert client.post(NOTES, {"text": "备" * 60}, format="json").status_code == 201
    response = client.post(NOTES, {"text": "备" * 61}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["errors"]["text"]
    assert "60" in message
    assert OrderNote.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({}, "text"),
        ({"text": "x", "flag": "pink"}, "flag"),
    ],
)
def test_a_bad_note_is_refused_and_nothing_is_written(shop_data, body, field):
    response = shop_data.client().post(NOTES, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert OrderNote.objects.count() == 0


def test_writing_needs_the_main_account_or_handle_orders(shop_data):
    # API.md: writing: main account or handle_orders (else 403)
    agent = shop_data.sub("agent", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    refused = shop_data.client(agent).post(NOTES, {"text": "no"}, format="json")
    assert refused.status_code == 403
    assert OrderNote.objects.count() == 0
    clerk = shop_data.sub("clerk", {Perm.HANDLE_ORDERS})
    allowed = shop_data.client(clerk).post(NOTES, {"text": "yes", "flag": "red"}, format="json")
    assert allowed.status_code == 201
    assert allowed.json()["author"] == clerk.pk


def test_staff_who_see_a_conversation_of_the_buyer_read_the_notes_and_others_do_not(shop_data):
    # API.md: reading: any staff who may see a conversation of that buyer (SPEC E6)
    shop_data.client().post(NOTES, {"text": "VIP", "flag": "purple"}, format="json")
    outsider = shop_data.sub("outsider", {Perm.CHAT})
    assert shop_data.client(outsider).get(NOTES).status_code == 404
    desk = served(shop_data, "b-1", agent_name="holder")
    read = desk.agent_client.get(NOTES)
    assert read.status_code == 200
    assert [n["text"] for n in read.json()["results"]] == ["VIP"]
    # the outsider still sees none of that buyer's conversations
    assert shop_data.client(outsider).get(NOTES).status_code == 404
    historian = shop_data.sub("historian", {Perm.VIEW_ALL_HISTORY})
    assert shop_data.client(historian).get(NOTES).status_code == 200


def test_an_unknown_order_answers_404(shop_data):
    client = shop_data.client()
    assert client.get("/api/v1/orders/nope/notes/").status_code == 404
    assert (
        client.post("/api/v1/orders/nope/notes/", {"text": "x"}, format="json").status_code == 404
    )


def test_another_shops_order_notes_answer_404_and_stay_as_they_are(shop_data, shop_b):
    # SPEC A1: shop B's order external id is unknown in shop A, for reading and writing
    push_buyer(shop_b, "b-9")
    push_order(shop_b, "o-9", "b-9")
    shop_b.client().post("/api/v1/orders/o-9/notes/", {"text": "B's secret note"}, format="json")
    client = shop_data.client()
    read = client.get("/api/v1/orders/o-9/notes/")
    assert read.status_code == 404 and "secret" not in read.content.decode()
    write = client.post("/api/v1/orders/o-9/notes/", {"text": "A writes"}, format="json")
    assert write.status_code == 404
    assert list(OrderNote.objects.values_list("text", flat=True)) == ["B's secret note"]


def test_options_describes_a_new_note_instead_of_failing(shop_data):
    # issue 12 (schemathesis): OPTIONS answered 500, the view had no serializer to describe
    response = shop_data.client().options(NOTES)
    assert response.status_code == 200, response.content[:300]
    assert set(response.json()["actions"]["POST"]) == {"text", "flag"}
    assert not OrderNote.objects.exists()
