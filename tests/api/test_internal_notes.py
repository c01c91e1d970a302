"""Internal notes on a conversation (SPEC I3; API.md, ``GET, POST /conversations/{id}/notes/``):
staff who may see the conversation read and write them; the buyer never sees them."""

from __future__ import annotations

import pytest

from apps.accounts.permissions import Perm
from apps.conversations.models import InternalNote, Message
from apps.events.models import Event
from tests.api.panel_support import served

pytestmark = pytest.mark.django_db

SECRET = "buyer is a known reseller, be careful"


def test_the_agent_writes_a_note_and_staff_who_see_the_conversation_read_it(shop_a):
    desk = served(shop_a, "b-1")
    written = desk.agent_client.post(desk.url("notes/"), {"body": SECRET}, format="json")
    assert written.status_code == 201, written.content
    note = written.json()
    assert (note["kind"], note["body"], note["author"]) == ("note", SECRET, desk.agent.pk)
    shop_a.client().post(desk.url("notes/"), {"body": "noted, thanks"}, format="json")
    listed = desk.agent_client.get(desk.url("notes/"))
    assert listed.status_code == 200
    assert [n["body"] for n in listed.json()["results"]] == [SECRET, "noted, thanks"]
    historian = shop_a.sub("historian", {Perm.VIEW_ALL_HISTORY})
    assert shop_a.client(historian).get(desk.url("notes/")).json()["count"] == 2


def test_staff_who_may_not_see_the_conversation_neither_read_nor_write_notes(shop_a):
    # SPEC E6: a conversation they may not see answers 404
    desk = served(shop_a, "b-1")
    desk.agent_client.post(desk.url("notes/"), {"body": SECRET}, format="json")
    outsider = shop_a.client(shop_a.sub("outsider", {Perm.CHAT}))
    read = outsider.get(desk.url("notes/"))
    assert read.status_code == 404 and SECRET not in read.content.decode()
    assert outsider.post(desk.url("notes/"), {"body": "x"}, format="json").status_code == 404
    assert InternalNote.objects.count() == 1


def test_a_note_never_reaches_the_buyer(shop_a):
    # SPEC I3: never in the buyer's messages or stream
    desk = served(shop_a, "b-1")
    desk.agent_client.post(desk.url("notes/"), {"body": SECRET}, format="json")
    widget = desk.buyer_client.get("/api/v1/widget/conversation/messages/")
    assert widget.status_code == 200 and SECRET not in widget.content.decode()
    conversation = desk.buyer_client.get("/api/v1/widget/conversation/")
    assert SECRET not in conversation.content.decode()
    buyer_events = Event.objects.filter(recipient_kind="buyer")
    assert buyer_events.exists()
    assert all(SECRET not in str(e.payload) for e in buyer_events)
    assert not Message.objects.filter(body__contains="reseller").exists()
    # nor into the agent's message list: notes are their own list
    listed = desk.agent_client.get(desk.url("messages/"))
    assert SECRET not in listed.content.decode()


@pytest.mark.parametrize("body", [{}, {"body": ""}, {"body": "   "}, {"body": "n" * 2001}])
def test_a_bad_note_is_refused_and_nothing_is_written(shop_a, body):
    desk = served(shop_a, "b-1")
    response = desk.agent_client.post(desk.url("notes/"), body, format="json")
    assert response.status_code == 400 and "body" in response.json()["errors"]
    assert InternalNote.objects.count() == 0


def test_another_shops_conversation_notes_answer_404(shop_a, shop_b):
    # SPEC A1
    desk_b = served(shop_b, "b-9", agent_name="b-agent")
    desk_b.agent_client.post(desk_b.url("notes/"), {"body": SECRET}, format="json")
    client = shop_a.client()
    read = client.get(desk_b.url("notes/"))
    assert read.status_code == 404 and SECRET not in read.content.decode()
    write = client.post(desk_b.url("notes/"), {"body": "shop A was here"}, format="json")
    assert write.status_code == 404
    assert list(InternalNote.objects.values_list("body", flat=True)) == [SECRET]
