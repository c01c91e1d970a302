"""Conversations on the staff side through the API (API.md, conversations; SPEC B11, B12, C3,
C5, E6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.conversations.models import Conversation, Message, State
from apps.routing.models import AgentState

CONVERSATIONS = "/api/v1/conversations/"
QUEUE = "/api/v1/queue/"


def url(conversation: Conversation, action: str = "") -> str:
    return f"{CONVERSATIONS}{conversation.pk}/" + (f"{action}/" if action else "")


def world(desk) -> dict[str, Any]:
    """Everything an action could change: conversations, loads, messages."""
    return {
        "conversations": list(
            Conversation.objects.filter(shop_id=desk.shop_id).order_by("pk").values()
        ),
        "loads": list(
            AgentState.objects.filter(shop_id=desk.shop_id)
            .order_by("pk")
            .values("account_id", "open_count", "status")
        ),
        "messages": Message.objects.filter(shop_id=desk.shop_id).count(),
    }


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


def write(desk, conversation: Conversation, account, body: str = "您好") -> Any:
    return desk.kit.client(account).post(
        url(conversation, "messages"), {"body": body}, format="json"
    )


# Listing and filters


def test_main_account_lists_every_conversation_newest_first(desk):
    # API.md: paginated `{"count", "next", "previous", "results"}`; SPEC E6: everything for main
    a1, a2 = desk.agent("a1"), desk.agent("a2")
    first, second = desk.ask("b1"), desk.ask("b2")
    assert {first.agent_id, second.agent_id} == {a1.pk, a2.pk}
    response = desk.kit.client().get(CONVERSATIONS)
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2 and ids(response) == [second.pk, first.pk]
    assert body["results"][0]["buyer"]["external_id"] == "b2"


def test_conversation_list_filters_by_state_agent_buyer_group_and_since(desk):
    # API.md: `state, agent, buyer, group, since`
    presale = desk.group("售前")
    a1 = desk.agent("a1", group=presale)
    waiting_room = desk.group("售后", scope_segments=["vip"])
    desk.agent("a2", group=waiting_room, status="paused")
    active = desk.ask("b1")
    closed = desk.close(desk.ask("b2"), desk.kit.main)
    queued = desk.ask(desk.buyer("vip-1", segments=["vip"]))
    assert (active.state, closed.state, queued.state) == ("active", "closed", "queued")
    client = desk.kit.client()
    assert ids(client.get(CONVERSATIONS, {"state": "queued"})) == [queued.pk]
    assert ids(client.get(CONVERSATIONS, {"state": "closed"})) == [closed.pk]
    assert ids(client.get(CONVERSATIONS, {"agent": a1.pk})) == [closed.pk, active.pk]
    assert ids(client.get(CONVERSATIONS, {"buyer": "b1"})) == [active.pk]
    assert ids(client.get(CONVERSATIONS, {"group": presale.pk, "state": "active"})) == [active.pk]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    earlier = (timezone.now() - timedelta(minutes=5)).isoformat()
    assert ids(client.get(CONVERSATIONS, {"since": later})) == []
    assert len(ids(client.get(CONVERSATIONS, {"since": earlier}))) == 3


@pytest.mark.parametrize(
    "query",
    [{"state": "open"}, {"agent": "me"}, {"group": "售前"}, {"since": "yesterday"}],
)
def test_bad_conversation_filter_is_400_with_its_name(desk, query):
    # API.md General: 400 {"errors": {field: [...]}}, never 500 for input
    response = desk.kit.client().get(CONVERSATIONS, query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(query)


def test_agent_without_view_all_history_sees_only_conversations_it_took_part_in(desk):
    # SPEC E6: other agents see the conversations they took part in
    a1 = desk.agent("a1", max_concurrent=1)
    a2 = desk.agent("a2", max_concurrent=1)
    mine, theirs = desk.ask("b1"), desk.ask("b2")
    if mine.agent_id != a1.pk:
        mine, theirs = theirs, mine
    client = desk.kit.client(a1)
    assert ids(client.get(CONVERSATIONS)) == [mine.pk]
    assert client.get(url(theirs)).status_code == 404
    assert client.get(url(theirs, "messages")).status_code == 404
    # a conversation it wrote in stays in its history after it moved on
    assert write(desk, mine, a1).status_code == 201
    transferred = desk.kit.client(a1).post(
        url(mine, "transfer"), {"to_account": a2.pk}, format="json"
    )
    assert transferred.status_code == 200, transferred.content
    assert ids(client.get(CONVERSATIONS)) == [mine.pk]
    assert client.get(url(mine)).json()["agent"] == a2.pk


def test_supervisor_with_view_all_history_sees_every_conversation(desk):
    # SPEC E6: accounts with view_all_history see everything and search a buyer across agents
    desk.agent("a1")
    supervisor = desk.kit.sub("lead", {Perm.VIEW_ALL_HISTORY})
    held = desk.ask("b1")
    client = desk.kit.client(supervisor)
    assert ids(client.get(CONVERSATIONS, {"buyer": "b1"})) == [held.pk]
    assert client.get(url(held)).status_code == 200


def test_another_shops_conversations_are_not_listed(desk, shop_b):
    # SPEC A1
    desk.agent("a1")
    desk.ask("b1")
    assert shop_b.client().get(CONVERSATIONS).json()["count"] == 0


# Detail and queue figures


def test_conversation_detail_has_the_fields_of_api_md(desk):
    # API.md, conversation fields
    agent = desk.agent("a1")
    conversation = desk.ask("b1")
    response = desk.kit.client(agent).get(url(conversation))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == conversation.pk and body["buyer"]["external_id"] == "b1"
    assert (body["state"], body["agent"], body["queue"]) == ("active", agent.pk, None)
    assert body["human_requested_at"] and body["assigned_at"]
    assert (body["closed_at"], body["close_reason"], body["rating"]) == (None, None, None)
    assert body["from_offline_message"] is False


def test_a_waiting_buyer_shows_its_position_and_estimate_until_they_are_too_far(desk):
    # SPEC C5: position 1-based; estimate ceil(position x 600 / S); hidden past 30 minutes
    desk.settings(default_max_concurrent=1)
    desk.agent("a1")
    desk.ask("b0")
    waiting = [desk.ask(f"b{i}") for i in range(1, 5)]
    client = desk.kit.client()
    figures = [client.get(url(c)).json()["queue"] for c in waiting]
    assert figures[:3] == [
        {"position": 1, "eta_seconds": 600, "hidden": False},
        {"position": 2, "eta_seconds": 1200, "hidden": False},
        {"position": 3, "eta_seconds": 1800, "hidden": False},
    ]
    assert figures[3] == {"position": None, "eta_seconds": None, "hidden": True}


@pytest.mark.parametrize("pk", ["999999", "abc", "0"])
def test_unknown_conversation_is_404(desk, pk):
    response = desk.kit.client().get(f"{CONVERSATIONS}{pk}/")
    assert response.status_code == 404 and set(response.json()) == {"detail"}


# Messages


def test_messages_come_oldest_first_and_after_a_seq(desk):
    # API.md: every message, the assistant's included; `seq` from 1 without gaps; `after_seq`
    agent = desk.agent("a1")
    conversation = desk.ask("b1")
    write(desk, conversation, agent, "一")
    write(desk, conversation, agent, "二")
    client = desk.kit.client(agent)
    everything = client.get(url(conversation, "messages")).json()
    assert set(everything) == {"count", "next", "previous", "results"}
    seqs = [m["seq"] for m in everything["results"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert everything["results"][0]["sender"] == "assistant"
    assert [m["body"] for m in everything["results"][-2:]] == ["一", "二"]
    after = client.get(url(conversation, "messages"), {"after_seq": seqs[-2]}).json()
    assert [m["body"] for m in after["results"]] == ["二"]


@pytest.mark.parametrize("after_seq", ["-1", "x"])
def test_bad_after_seq_is_400(desk, after_seq):
    desk.agent("a1")
    conversation = desk.ask("b1")
    response = desk.kit.client().get(url(conversation, "messages"), {"after_seq": after_seq})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["after_seq"]


def test_agent_writes_and_a_resend_with_the_same_client_id_is_stored_once(desk):
    # API.md: 201 message, idempotent on client_id: a repeat answers 200 with the stored message
    agent = desk.agent("a1")
    conversation = desk.ask("b1")
    client = desk.kit.client(agent)
    first = client.post(
        url(conversation, "messages"), {"body": "您好", "client_id": "c-1"}, format="json"
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["sender"], body["agent"], body["kind"]) == ("agent", agent.pk, "text")
    assert (body["body"], body["client_id"], body["conversation"]) == (
        "您好",
        "c-1",
        conversation.pk,
    )
    repeat = client.post(
        url(conversation, "messages"), {"body": "您好!", "client_id": "c-1"}, format="json"
    )
    assert repeat.status_code == 200 and repeat.json() == body
    assert Message.objects.filter(conversation=conversation, client_id="c-1").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 5001}, "body"),
        ({"body": "hi", "client_id": "c" * 65}, "client_id"),
    ],
)
def test_bad_message_is_refused_and_nothing_is_stored(desk, body, field):
    agent = desk.agent("a1")
    conversation = desk.ask("b1")
    before = world(desk)
    response = desk.kit.client(agent).post(url(conversation, "messages"), body, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert world(desk) == before


def test_writing_to_a_conversation_one_does_not_hold_is_409(desk):
    # API.md General: 409 state conflict; the main account sees it but does not hold it
    desk.agent("a1")
    conversation = desk.ask("b1")
    before = world(desk)
    response = write(desk, conversation, desk.kit.main)
    assert response.status_code == 409 and "detail" in response.json()
    assert world(desk) == before


def test_writing_to_a_closed_conversation_is_409(desk):
    agent = desk.agent("a1")
    conversation = desk.close(desk.ask("b1"), agent)
    before = world(desk)
    assert write(desk, conversation, agent).status_code == 409
    assert world(desk) == before


# Closing


def test_agent_closes_its_conversation_and_the_freed_slot_takes_the_next_buyer(desk):
    # SPEC C3: a slot that frees immediately takes the next waiting buyer
    desk.settings(default_max_concurrent=1)
    agent = desk.agent("a1")
    held, waiting = desk.ask("b1"), desk.ask("b2")
    assert waiting.state == State.QUEUED
    response = desk.kit.client(agent).post(url(held, "close"))
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["close_reason"]) == ("closed", "agent")
    assert body["closed_at"] is not None
    assert (desk.fresh(waiting).state, desk.fresh(waiting).agent_id) == (State.ACTIVE, agent.pk)
    assert desk.load(agent) == 1


def test_closing_a_closed_conversation_is_409_and_changes_nothing(desk):
    agent = desk.agent("a1")
    conversation = desk.close(desk.ask("b1"), agent)
    before = world(desk)
    response = desk.kit.client(agent).post(url(conversation, "close"))
    assert response.status_code == 409 and "detail" in response.json()
    assert world(desk) == before


def test_an_agent_cannot_close_a_conversation_it_no_longer_holds(desk):
    # it wrote in it (so it sees it, E6) and passed it on
    a1, a2 = desk.agent("a1", max_concurrent=1), desk.agent("a2", max_concurrent=1)
    conversation = desk.ask("b1")
    holder, other = (a1, a2) if conversation.agent_id == a1.pk else (a2, a1)
    assert write(desk, conversation, holder).status_code == 201
    moved = desk.kit.client(holder).post(
        url(conversation, "transfer"), {"to_account": other.pk}, format="json"
    )
    assert moved.status_code == 200
    before = world(desk)
    response = desk.kit.client(holder).post(url(conversation, "close"))
    assert response.status_code == 403
    assert world(desk) == before


def test_supervisor_closes_a_colleagues_conversation(desk):
    # docs/routing.md: the main account and view_all_history accounts may close any open one
    desk.agent("a1")
    supervisor = desk.kit.sub("lead", {Perm.VIEW_ALL_HISTORY})
    conversation = desk.ask("b1")
    assert desk.kit.client(supervisor).post(url(conversation, "close")).status_code == 200
    assert desk.fresh(conversation).state == State.CLOSED


# Transfer (B12)


def test_transfer_to_an_online_colleague_even_past_its_max(desk):
    # SPEC B12: to an online, not paused account, even past its max; the buyer sees a notice
    a1 = desk.agent("a1", max_concurrent=1)
    conversation = desk.ask("b1")
    a2 = desk.agent("a2", max_concurrent=1)
    desk.ask("b2")
    assert desk.load(a2) == 1
    response = desk.kit.client(a1).post(
        url(conversation, "transfer"), {"to_account": a2.pk, "note": "VIP"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["agent"]) == ("active", a2.pk)
    assert (desk.load(a1), desk.load(a2)) == (0, 2)
    last = Message.objects.filter(conversation=conversation).order_by("-seq").first()
    assert last is not None and (last.sender, last.kind) == ("system", "notice")


@pytest.mark.parametrize("status", ["offline", "paused"])
def test_transfer_to_an_account_that_is_not_online_is_409(desk, status):
    # SPEC B12: the target must be online and not paused; the conversation stays
    a1 = desk.agent("a1")
    conversation = desk.ask("b1")
    target = desk.agent("a2", status=status)
    before = world(desk)
    response = desk.kit.client(a1).post(
        url(conversation, "transfer"), {"to_account": target.pk}, format="json"
    )
    assert response.status_code == 409 and "detail" in response.json()
    assert world(desk) == before


def test_transfer_to_a_group_goes_to_one_of_its_online_agents(desk):
    # SPEC B12: routed within that group
    a1 = desk.agent("a1")
    conversation = desk.ask("b1")
    aftersale = desk.group("售后")
    specialist = desk.agent("specialist", group=aftersale)
    response = desk.kit.client(a1).post(
        url(conversation, "transfer"), {"to_group": aftersale.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["agent"], response.json()["group"]) == (specialist.pk, aftersale.pk)


def test_transfer_to_a_group_with_nobody_online_is_409(desk):
    # docs/routing.md: refused, the conversation stays with the sender
    a1 = desk.agent("a1")
    conversation = desk.ask("b1")
    aftersale = desk.group("售后")
    desk.agent("specialist", group=aftersale, status="offline")
    before = world(desk)
    response = desk.kit.client(a1).post(
        url(conversation, "transfer"), {"to_group": aftersale.pk}, format="json"
    )
    assert response.status_code == 409
    assert world(desk) == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "to_account"),
        ({"note": "only a note"}, 400, "to_account"),
        ({"to_account": 1, "to_group": 1}, 400, "to_account"),
        ({"to_account": "a2"}, 400, "to_account"),
        ({"to_group": "售后"}, 400, "to_group"),
        ({"to_account": 999999}, 404, None),
        ({"to_group": 999999}, 404, "to_group"),
        ({"to_account": 1, "note": "n" * 501}, 400, "note"),
    ],
)
def test_bad_transfer_is_refused_and_nothing_changes(desk, body, status, field):
    a1 = desk.agent("a1")
    conversation = desk.ask("b1")
    before = world(desk)
    response = desk.kit.client(a1).post(url(conversation, "transfer"), body, format="json")
    assert response.status_code == status, response.content
    if field:
        assert list(response.json()["errors"]) == [field]
    assert world(desk) == before


def test_transfer_to_another_shops_account_or_group_is_404(desk, shop_b):
    # SPEC A1
    from apps.routing.models import Group

    a1 = desk.agent("a1")
    conversation = desk.ask("b1")
    their_group = Group.objects.create(shop=shop_b.shop, name="theirs")
    before = world(desk)
    client = desk.kit.client(a1)
    for body in ({"to_account": shop_b.main.pk}, {"to_group": their_group.pk}):
        assert client.post(url(conversation, "transfer"), body, format="json").status_code == 404
    assert world(desk) == before


def test_transfer_to_oneself_is_400(desk):
    a1 = desk.agent("a1")
    conversation = desk.ask("b1")
    response = desk.kit.client(a1).post(
        url(conversation, "transfer"), {"to_account": a1.pk}, format="json"
    )
    assert response.status_code == 400 and list(response.json()["errors"]) == ["to_account"]


def test_only_the_holder_or_the_main_account_transfers(desk):
    # SPEC B12: "an agent transfers" its conversation; a supervisor without it is refused
    desk.agent("a1")
    a2 = desk.agent("a2", status="offline")
    supervisor = desk.kit.sub("lead", {Perm.VIEW_ALL_HISTORY, Perm.CHAT})
    desk.status(supervisor, "online")
    conversation = desk.ask("b1")
    desk.status(a2, "online")
    before = world(desk)
    response = desk.kit.client(supervisor).post(
        url(conversation, "transfer"), {"to_account": a2.pk}, format="json"
    )
    assert response.status_code == 403
    assert world(desk) == before
    response = desk.kit.client().post(
        url(conversation, "transfer"), {"to_account": a2.pk}, format="json"
    )
    assert response.status_code == 200 and response.json()["agent"] == a2.pk


# Claim (B11 pool)


def pooled(desk, external_id: str = "b1") -> Conversation:
    desk.settings(offline_handling="pool", pool_auto_assign=False)
    conversation = desk.ask(external_id)
    assert conversation.state == State.POOLED
    return conversation


def test_agent_claims_a_pooled_conversation(desk):
    # SPEC B11: pooled conversations are claimed by hand, marked "from offline message"
    conversation = pooled(desk)
    agent = desk.agent("a1")
    response = desk.kit.client(agent).post(url(conversation, "claim"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["agent"], body["from_offline_message"]) == (
        "active",
        agent.pk,
        True,
    )
    assert desk.load(agent) == 1


def test_an_agent_finds_the_message_pool_in_its_list(desk):
    # SPEC B11, E2: agents claim pooled conversations by hand, so they must find them; the
    # pool is not history (E6): an account that cannot receive buyers does not see it
    conversation = pooled(desk)
    agent = desk.agent("a1")
    clerk = desk.kit.sub("clerk", {Perm.HANDLE_ORDERS})
    assert ids(desk.kit.client(agent).get(CONVERSATIONS, {"state": "pooled"})) == [conversation.pk]
    assert ids(desk.kit.client(clerk).get(CONVERSATIONS)) == []
    claimed = desk.kit.client(agent).post(url(conversation, "claim"))
    assert claimed.status_code == 200
    assert ids(desk.kit.client(agent).get(CONVERSATIONS, {"state": "active"})) == [conversation.pk]


def test_claiming_a_conversation_that_is_not_pooled_is_409(desk):
    agent = desk.agent("a1")
    conversation = desk.ask("b1")
    before = world(desk)
    assert desk.kit.client(agent).post(url(conversation, "claim")).status_code == 409
    assert world(desk) == before


def test_an_offline_agent_cannot_claim(desk):
    conversation = pooled(desk)
    agent = desk.agent("a1", status="offline")
    before = world(desk)
    assert desk.kit.client(agent).post(url(conversation, "claim")).status_code == 409
    assert world(desk) == before


def test_an_account_without_the_chat_permission_does_not_see_the_pool(desk):
    # SPEC A4: only accounts that receive buyers take from the pool
    conversation = pooled(desk)
    clerk = desk.kit.sub("clerk", {Perm.HANDLE_ORDERS})
    desk.status(clerk, "online")
    before = world(desk)
    assert desk.kit.client(clerk).post(url(conversation, "claim")).status_code == 404
    assert world(desk) == before


# Queue


def test_queue_lists_waiting_buyers_in_order_with_waited_seconds(desk):
    # API.md: waiting buyers in order, with waited seconds (C4 wait_first)
    desk.settings(default_max_concurrent=1)
    agent = desk.agent("a1")
    desk.ask("b0")
    first, second = desk.ask("b1"), desk.ask("b2")
    response = desk.kit.client(agent).get(QUEUE)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and [c["id"] for c in body["results"]] == [first.pk, second.pk]
    assert [c["queue"]["position"] for c in body["results"]] == [1, 2]
    assert all(isinstance(c["waited_seconds"], int) for c in body["results"])
    desk.settings(queue_order="newest_first")
    assert [c["id"] for c in desk.kit.client().get(QUEUE).json()["results"]] == [
        second.pk,
        first.pk,
    ]


def test_queue_of_a_group_shows_the_buyers_it_may_take(desk):
    # API.md: `group`; SPEC B4: the VIP group's buyers are not the presale group's
    desk.settings(default_max_concurrent=1)
    vip_group = desk.group("VIP", scope_segments=["vip"])
    presale = desk.group("售前")
    desk.agent("vip-agent", group=vip_group)
    desk.agent("presale-agent", group=presale)
    desk.ask(desk.buyer("vip-0", segments=["vip"]))
    desk.ask("plain-0")
    vip = desk.ask(desk.buyer("vip-1", segments=["vip"]))
    plain = desk.ask("plain-1")
    client = desk.kit.client()
    assert [c["id"] for c in client.get(QUEUE, {"group": vip_group.pk}).json()["results"]] == [
        vip.pk
    ]
    assert [c["id"] for c in client.get(QUEUE, {"group": presale.pk}).json()["results"]] == [
        plain.pk
    ]


def test_queue_of_an_unknown_group_is_404_and_a_bad_one_400(desk, shop_b):
    from apps.routing.models import Group

    theirs = Group.objects.create(shop=shop_b.shop, name="theirs")
    client = desk.kit.client()
    assert client.get(QUEUE, {"group": theirs.pk}).status_code == 404
    response = client.get(QUEUE, {"group": "vip"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["group"]
