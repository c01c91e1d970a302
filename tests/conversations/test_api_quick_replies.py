"""Quick replies through the API (SPEC D7, API.md "Quick replies"): shop-wide and personal,
search, suggestions from the buyer's latest message, CSV export and import."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle as conv
from apps.conversations.models import Sender
from apps.events.models import Event
from apps.quickreplies.models import QuickReply

URL = "/api/v1/quick-replies/"

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [r["text"] for r in response.json()["results"]]


def test_shop_wide_replies_are_everyones_personal_ones_their_owners_only(desk):
    # given the main account's shop-wide reply and two agents
    kit = desk.kit
    a = kit.sub("a", {Perm.CHAT})
    b = kit.sub("b", {Perm.CHAT})
    made = kit.client().post(
        URL, {"text": "您好，请稍等", "keywords": ["在吗"], "category": "问候"}, format="json"
    )
    assert made.status_code == 201, made.content
    assert made.json()["personal"] is False and made.json()["owner"] is None
    # when agent a writes a personal reply
    mine = kit.client(a).post(URL, {"text": "我是小A", "personal": True}, format="json")
    assert mine.status_code == 201 and mine.json()["owner"] == a.pk
    # then a lists both, b only the shop-wide one, and a's reply is 404 to b (read or change)
    assert texts(kit.client(a).get(URL)) == ["您好，请稍等", "我是小A"]
    assert texts(kit.client(b).get(URL)) == ["您好，请稍等"]
    other = f"{URL}{mine.json()['id']}/"
    assert kit.client(b).get(other).status_code == 404
    assert kit.client(b).patch(other, {"text": "x"}, format="json").status_code == 404
    assert kit.client(b).delete(other).status_code == 404
    assert QuickReply.objects.get(pk=mine.json()["id"]).text == "我是小A"


def test_shop_wide_replies_need_manage_settings_personal_ones_do_not(desk):
    kit = desk.kit
    agent = kit.sub("a", {Perm.CHAT})
    manager = kit.sub("m", {Perm.CHAT, Perm.MANAGE_SETTINGS})
    shared = QuickReply.objects.create(shop=kit.shop, text="共享回复")
    client = kit.client(agent)
    answers = [
        client.post(URL, {"text": "新的共享"}, format="json"),
        client.patch(f"{URL}{shared.pk}/", {"text": "改掉"}, format="json"),
        client.delete(f"{URL}{shared.pk}/"),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert list(QuickReply.objects.values_list("text", flat=True)) == ["共享回复"]
    # a manager with manage_settings changes it; the agent keeps its own personal replies
    changed = kit.client(manager).patch(
        f"{URL}{shared.pk}/", {"text": "已改", "keywords": ["发货", "快递"]}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["keywords"] == ["发货", "快递"]
    own = client.post(URL, {"text": "私人", "personal": True}, format="json").json()
    assert client.patch(f"{URL}{own['id']}/", {"text": "私人2"}, format="json").status_code == 200
    assert client.delete(f"{URL}{own['id']}/").status_code == 204


def test_bad_replies_are_refused_with_every_error_and_nothing_stored(desk):
    response = desk.kit.client().post(
        URL,
        {"text": "", "keywords": ["x" * 21] + [f"k{i}" for i in range(25)], "position": -1},
        format="json",
    )
    assert response.status_code == 400
    assert {"text", "keywords", "position"} <= set(response.json()["errors"])
    assert not QuickReply.objects.exists()


def test_search_finds_text_and_keywords_and_category_filters(desk):
    kit = desk.kit
    QuickReply.objects.create(shop=kit.shop, text="七天无理由退货", category="售后")
    QuickReply.objects.create(shop=kit.shop, text="今天发货", keywords=["物流"], category="物流")
    QuickReply.objects.create(shop=kit.shop, text="欢迎光临", category="问候")
    client = kit.client()
    assert texts(client.get(URL, {"q": "退货"})) == ["七天无理由退货"]
    assert texts(client.get(URL, {"q": "物流"})) == ["今天发货"]
    assert texts(client.get(URL, {"category": "问候"})) == ["欢迎光临"]


def test_suggestions_put_the_replies_matching_the_buyers_latest_message_first(desk):
    # given replies with keywords, and an agent serving a buyer who asks about delivery
    kit = desk.kit
    agent = desk.agent("a", max_concurrent=5)
    kit.client(agent)
    plain = QuickReply.objects.create(shop=kit.shop, text="欢迎光临", position=0)
    one = QuickReply.objects.create(shop=kit.shop, text="已发货", keywords=["发货"], position=1)
    two = QuickReply.objects.create(
        shop=kit.shop, text="物流单号见订单", keywords=["快递", "发货", "单号"], position=2
    )
    c = desk.ask("b1")
    assert c.agent_id == agent.pk
    conv.message_create(conversation=c, sender=Sender.BUYER, body="我的快递什么时候发货？")
    # when the agent asks for suggestions
    response = kit.client(agent).get(f"{URL}suggest/", {"conversation": c.pk})
    # then the reply with more matched keywords comes first, then the other match, then the rest
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["id"] for r in body["results"]] == [two.pk, one.pk, plain.pk]
    assert body["results"][0]["matched_keywords"] == ["快递", "发货"]
    assert body["results"][2]["matched_keywords"] == []
    assert body["message"] is not None
    # and another shop's conversation, or a colleague's, is 404
    other = kit.sub("other", {Perm.CHAT})
    assert kit.client(other).get(f"{URL}suggest/", {"conversation": c.pk}).status_code == 404


def test_csv_export_then_import_round_trips_and_a_bad_file_adds_nothing(desk):
    kit = desk.kit
    client = kit.client()
    QuickReply.objects.create(
        shop=kit.shop, text="您好, 在的", keywords=["在吗", "在"], category="问候"
    )
    exported = client.get(f"{URL}export/")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    data = exported.content.decode("utf-8-sig")
    assert data.splitlines()[0] == "category,text,keywords,position"
    QuickReply.objects.all().delete()
    imported = client.post(f"{URL}import/", {"file": io.BytesIO(data.encode())}, format="multipart")
    assert imported.status_code == 201, imported.content
    reply = QuickReply.objects.get()
    assert (reply.text, reply.keywords, reply.category) == ("您好, 在的", ["在吗", "在"], "问候")
    # a file with one bad row is refused whole, naming the line
    bad = "category,text,keywords,position\n售后,退货请联系客服,退货,0\n售后,,退款,x\n"
    refused = client.post(f"{URL}import/", {"file": io.BytesIO(bad.encode())}, format="multipart")
    assert refused.status_code == 400
    assert "3" in " ".join(refused.json()["errors"]["file"])
    assert QuickReply.objects.count() == 1
    # and an agent without manage_settings may not import
    agent = kit.sub("a", {Perm.CHAT})
    denied = kit.client(agent).post(
        f"{URL}import/", {"file": io.BytesIO(data.encode())}, format="multipart"
    )
    assert denied.status_code == 403 and QuickReply.objects.count() == 1


def test_a_buyer_message_with_a_keyword_suggests_replies_to_its_agent(desk):
    # given an agent serving a buyer, a shop-wide reply with keywords and two personal ones
    kit = desk.kit
    agent = desk.agent("a", max_concurrent=5)
    other = desk.agent("o", max_concurrent=5)
    c = desk.ask("b1")
    assert c.agent_id == agent.pk
    admin = kit.client()
    shared = admin.post(URL, {"text": "已发货", "keywords": ["发货"]}, format="json").json()
    mine = (
        kit.client(agent)
        .post(
            URL,
            {"text": "单号稍后发您", "keywords": ["单号", "发货"], "personal": True},
            format="json",
        )
        .json()
    )
    kit.client(other).post(
        URL, {"text": "别人的", "keywords": ["发货"], "personal": True}, format="json"
    )
    # when the buyer writes a message with those keywords
    message, _created = conv.message_create(
        conversation=c, sender=Sender.BUYER, body="请问单号多少，什么时候发货"
    )
    # then its agent, and only its agent, gets quick_reply.suggested: its own reply (two
    # keywords) first, then the shop-wide one; never the colleague's personal reply
    events = Event.objects.filter(type="quick_reply.suggested")
    assert [(e.recipient_id, e.payload) for e in events] == [
        (
            agent.pk,
            {"conversation": c.pk, "message": message.pk, "replies": [mine["id"], shared["id"]]},
        )
    ]
    # and a message without a keyword suggests nothing
    conv.message_create(conversation=c, sender=Sender.BUYER, body="好的谢谢")
    assert events.count() == 1


def test_suggestions_read_the_replies_again_only_after_a_change(desk):
    # given a shop with a keyword reply, whose keywords this process has read once
    kit = desk.kit
    desk.agent("a", max_concurrent=5)
    c = desk.ask("b1")
    admin = kit.client()
    admin.post(URL, {"text": "在的", "keywords": ["在吗"]}, format="json")
    conv.message_create(conversation=c, sender=Sender.BUYER, body="在吗")
    # when the buyer writes again, then the replies are not read
    with CaptureQueriesContext(connection) as queries:
        conv.message_create(conversation=c, sender=Sender.BUYER, body="在吗？")
    assert not [q for q in queries if "quickreplies_quickreply" in q["sql"]]
    # and once a reply changed, the next message sees the change
    admin.post(URL, {"text": "马上来", "keywords": ["人呢"]}, format="json")
    conv.message_create(conversation=c, sender=Sender.BUYER, body="人呢")
    last = Event.objects.filter(type="quick_reply.suggested").order_by("id").last()
    assert last is not None and len(last.payload["replies"]) == 1
    assert QuickReply.objects.get(pk=last.payload["replies"][0]).text == "马上来"


def test_a_position_beyond_the_column_is_a_400_not_a_500(desk):
    # issue 12 (schemathesis): 2**41 - 1 reached the database, whose integer column refused it
    client = desk.kit.client()
    huge = 2_199_023_255_551
    made = client.post(URL, {"text": "您好", "position": huge}, format="json")
    assert made.status_code == 400, made.content
    assert "position" in made.json()["errors"]
    reply = QuickReply.objects.create(shop=desk.kit.shop, text="在的", position=3)
    changed = client.patch(f"{URL}{reply.pk}/", {"position": huge}, format="json")
    assert changed.status_code == 400, changed.content
    csv_file = io.BytesIO(f"category,text,keywords,position\n,你好,,{huge}\n".encode())
    imported = client.post(f"{URL}import/", {"file": csv_file}, format="multipart")
    assert imported.status_code == 400, imported.content
    assert "2" in " ".join(imported.json()["errors"]["file"])
    # nothing stored, nothing changed
    assert list(QuickReply.objects.values_list("text", "position")) == [("在的", 3)]


def test_the_export_answers_its_documented_format_parameter(desk):
    # issue 12 (schemathesis): `?format=csv`, the parameter the schema lists, answered 404
    QuickReply.objects.create(shop=desk.kit.shop, text="您好", keywords=["在吗"], category="问候")
    exported = desk.kit.client().get(f"{URL}export/?format=csv")
    assert exported.status_code == 200, exported.content
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode("utf-8-sig").splitlines()[1] == "问候,您好,在吗,0"
    # an error is JSON, whatever the format asked for
    refused = APIClient().get(f"{URL}export/?format=csv")
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/json"
