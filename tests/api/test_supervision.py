"""Supervision (SPEC I3, amended decision): the main account and ``view_monitor`` watch a live
conversation (``POST``/``DELETE /conversations/{id}/watch/``) and see it live as its agent does;
the main account, or ``view_monitor`` with ``chat``, takes it over
(``POST /conversations/{id}/take-over/``). The list to pick from: ``GET /conversations/live/``."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Conversation, InternalNote, NoteKind
from apps.conversations.supervision import MAX_WATCHERS
from apps.events.models import Event
from apps.routing.models import AgentState, AgentStatus
from conftest import ShopKit
from tests.api.panel_support import Served, served

pytestmark = pytest.mark.django_db

SECRET = "supervisor: this buyer is a reseller"


def events_of(account: Account, conversation_id: int | None = None) -> list[tuple[str, Any]]:
    """The account's stream, oldest first: (type, data), of one conversation if named."""
    rows = Event.objects.filter(recipient_kind="account", recipient_id=account.pk).order_by(
        "stream_seq"
    )
    found = [(e.type, e.payload) for e in rows]
    if conversation_id is None:
        return found
    return [
        (t, d)
        for t, d in found
        if d.get("conversation") == conversation_id
        or d.get("id") == (conversation_id if t.startswith("conversation.") else None)
    ]


def buyer_events(desk: Served) -> list[Event]:
    return list(Event.objects.filter(recipient_kind="buyer", shop_id=desk.kit.shop.pk))


def buyer_writes(desk: Served, body: str) -> None:
    response = desk.buyer_client.post(
        "/api/v1/widget/conversation/messages/", {"body": body}, format="json"
    )
    assert response.status_code == 201, response.content


def watchers(desk: Served) -> list[int]:
    return list(desk.row().watcher_ids)


def monitor(kit: ShopKit, name: str = "monitor", *extra: Perm) -> Account:
    return kit.sub(name, {Perm.VIEW_MONITOR, *extra})


# --- Who may -------------------------------------------------------------------------------


def test_an_agent_without_the_monitor_permission_may_neither_watch_nor_take_over(shop_a):
    # SPEC I3 (amended): watching is for the main account and view_monitor
    desk = served(shop_a)
    colleague = shop_a.sub("colleague", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    agent_set_status(account=colleague, status=AgentStatus.ONLINE)
    client = shop_a.client(colleague)

    for answer in (
        client.post(desk.url("watch/")),
        client.delete(desk.url("watch/")),
        client.post(desk.url("take-over/")),
        client.get("/api/v1/conversations/live/"),
    ):
        assert answer.status_code == 403, answer.content
        assert answer.json()["detail"]

    # nothing changed: nobody watches, the agent still holds it
    row = desk.row()
    assert (row.watcher_ids, row.agent_id, row.state) == ([], desk.agent.pk, "active")


def test_view_monitor_without_chat_watches_but_may_not_take_over(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a)
    client = shop_a.client(supervisor)

    # it sees the live conversation (it never took part in it) and watches it
    assert client.get(desk.url()).status_code == 200
    watched = client.post(desk.url("watch/"))
    assert watched.status_code == 200, watched.content
    assert (watched.json()["id"], watched.json()["state"]) == (desk.id, "active")
    assert watchers(desk) == [supervisor.pk]

    # but taking it over needs chat too
    refused = client.post(desk.url("take-over/"))
    assert refused.status_code == 403
    assert "chat" in refused.json()["detail"]
    row = desk.row()
    assert (row.agent_id, row.watcher_ids) == (desk.agent.pk, [supervisor.pk])


def test_the_main_account_watches_and_takes_over(shop_a):
    desk = served(shop_a)
    agent_set_status(account=shop_a.main, status=AgentStatus.ONLINE)
    client = shop_a.client()
    assert client.post(desk.url("watch/")).status_code == 200
    taken = client.post(desk.url("take-over/"))
    assert taken.status_code == 200, taken.content
    assert (taken.json()["agent"], taken.json()["state"]) == (shop_a.main.pk, "active")


def test_view_monitor_with_chat_takes_over(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a, "lead", Perm.CHAT)
    agent_set_status(account=supervisor, status=AgentStatus.PAUSED)  # paused is there too
    taken = shop_a.client(supervisor).post(desk.url("take-over/"))
    assert taken.status_code == 200, taken.content
    assert desk.row().agent_id == supervisor.pk


def test_another_shops_conversation_answers_404_and_stays_unchanged(shop_a, shop_b):
    # SPEC A1
    desk_b = served(shop_b, "b-9", agent_name="b-agent")
    agent_set_status(account=shop_a.main, status=AgentStatus.ONLINE)
    client = shop_a.client()
    for answer in (
        client.post(desk_b.url("watch/")),
        client.delete(desk_b.url("watch/")),
        client.post(desk_b.url("take-over/")),
    ):
        assert answer.status_code == 404
    row = desk_b.row()
    assert (row.watcher_ids, row.agent_id) == ([], desk_b.agent.pk)
    assert desk_b.id not in [
        c["id"] for c in client.get("/api/v1/conversations/live/").json()["results"]
    ]


# --- The conversation's state ----------------------------------------------------------------


def test_only_a_live_conversation_can_be_watched_or_taken_over(shop_a):
    desk = served(shop_a)
    agent_set_status(account=shop_a.main, status=AgentStatus.ONLINE)
    assert desk.agent_client.post(desk.url("close/")).status_code == 200
    client = shop_a.client()

    watched = client.post(desk.url("watch/"))
    assert watched.status_code == 409
    assert "live" in watched.json()["detail"]
    taken = client.post(desk.url("take-over/"))
    assert taken.status_code == 409
    row = desk.row()
    assert (row.state, row.agent_id, row.watcher_ids) == ("closed", desk.agent.pk, [])
    # a view_monitor account that never took part does not see an ended conversation at all
    assert shop_a.client(monitor(shop_a)).post(desk.url("watch/")).status_code == 404


def test_watching_twice_and_stopping_twice_change_nothing_more(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a)
    client = shop_a.client(supervisor)
    assert client.post(desk.url("watch/")).status_code == 200
    assert client.post(desk.url("watch/")).status_code == 200
    assert watchers(desk) == [supervisor.pk]
    assert client.delete(desk.url("watch/")).status_code == 204
    assert client.delete(desk.url("watch/")).status_code == 204
    assert watchers(desk) == []


def test_the_holding_agent_does_not_watch_its_own_conversation(shop_a):
    desk = served(shop_a, perms={Perm.VIEW_MONITOR})
    refused = desk.agent_client.post(desk.url("watch/"))
    assert refused.status_code == 409
    assert watchers(desk) == []


def test_at_most_ten_watch_at_once(shop_a):
    desk = served(shop_a)
    crowd = [monitor(shop_a, f"m{n}") for n in range(MAX_WATCHERS + 1)]
    for account in crowd[:MAX_WATCHERS]:
        assert shop_a.client(account).post(desk.url("watch/")).status_code == 200
    refused = shop_a.client(crowd[-1]).post(desk.url("watch/"))
    assert refused.status_code == 409
    assert str(MAX_WATCHERS) in refused.json()["detail"]
    assert watchers(desk) == [a.pk for a in crowd[:MAX_WATCHERS]]


# --- Seeing it live ----------------------------------------------------------------------------


def test_a_watcher_receives_the_chat_live_and_an_unrelated_agent_does_not(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a)
    bystander = shop_a.sub("bystander", {Perm.CHAT})
    client = shop_a.client(supervisor)
    assert client.post(desk.url("watch/")).status_code == 200

    # when the buyer and the agent write and the agent adds a note
    buyer_writes(desk, "where is my parcel?")
    sent = desk.agent_client.post(desk.url("messages/"), {"body": "on its way"}, format="json")
    assert sent.status_code == 201
    note = desk.agent_client.post(desk.url("notes/"), {"body": SECRET}, format="json")
    assert note.status_code == 201

    # then the watcher's stream has them, as the agent's has
    seen = events_of(supervisor, desk.id)
    bodies = [d["body"] for t, d in seen if t == "message.created"]
    assert bodies == ["where is my parcel?", "on its way"]
    assert [d["body"] for t, d in seen if t == "note.created"] == [SECRET]
    # and it reads the chat through REST
    history = client.get(desk.url("messages/?after_seq=0")).json()["results"]
    assert [m["body"] for m in history][-2:] == ["where is my parcel?", "on its way"]
    assert SECRET in client.get(desk.url("notes/")).content.decode()
    # a note the watcher writes reaches the agent
    assert (
        client.post(desk.url("notes/"), {"body": "ask for the order"}, format="json").status_code
        == 201
    )
    assert ("note.created", "ask for the order") in [
        (t, d.get("body")) for t, d in events_of(desk.agent, desk.id)
    ]
    # an agent who neither holds nor watches it gets nothing of it, the buyer never a note
    assert events_of(bystander, desk.id) == []
    assert all(
        SECRET not in str(e.payload) and "ask for" not in str(e.payload) for e in buyer_events(desk)
    )
    assert not any(e.type == "note.created" for e in buyer_events(desk))


def test_a_watcher_hears_nothing_more_after_it_stops(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a)
    client = shop_a.client(supervisor)
    client.post(desk.url("watch/"))
    buyer_writes(desk, "first")
    assert client.delete(desk.url("watch/")).status_code == 204
    buyer_writes(desk, "second")
    desk.agent_client.post(desk.url("notes/"), {"body": "later note"}, format="json")
    bodies = [d.get("body") for t, d in events_of(supervisor, desk.id)]
    assert "first" in bodies and "second" not in bodies and "later note" not in bodies


def test_closing_tells_the_watcher_then_watching_ends(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a)
    client = shop_a.client(supervisor)
    client.post(desk.url("watch/"))
    assert desk.agent_client.post(desk.url("close/")).status_code == 200

    seen = events_of(supervisor, desk.id)
    assert seen[-1][0] == "conversation.closed"
    assert desk.row().watcher_ids == []
    before = len(events_of(supervisor))
    # the buyer writes again: a new conversation, which the supervisor does not watch
    buyer_writes(desk, "one more thing")
    assert len(events_of(supervisor)) == before


# --- Taking over -----------------------------------------------------------------------------


def test_taking_over_moves_the_conversation_and_tells_the_former_agent(shop_a):
    settings = shop_a.shop.settings
    settings.language = "en"  # the buyer's notice and the note are in the shop's language
    settings.save(update_fields=["language"])
    desk = served(shop_a)
    desk.agent_client.post(desk.url("messages/"), {"body": "hello, how can I help?"}, format="json")
    owner = shop_a.main
    agent_set_status(account=owner, status=AgentStatus.ONLINE)
    other = monitor(shop_a, "other")
    owner_client = shop_a.client(owner)
    assert owner_client.post(desk.url("watch/")).status_code == 200
    assert shop_a.client(other).post(desk.url("watch/")).status_code == 200
    loads = {a: AgentState.objects.get(account=a).open_count for a in (desk.agent, owner)}

    taken = owner_client.post(desk.url("take-over/"))

    assert taken.status_code == 200, taken.content
    row = desk.row()
    assert (row.state, row.agent_id, row.assign_reason) == ("active", owner.pk, "transfer")
    # the owner holds it (and no longer watches it); the other supervisor still watches
    assert row.watcher_ids == [other.pk]
    assert AgentState.objects.get(account=desk.agent).open_count == loads[desk.agent] - 1
    assert AgentState.objects.get(account=owner).open_count == loads[owner] + 1
    # the former agent is told where it went, as a transfer tells it
    moved = [d for t, d in events_of(desk.agent, desk.id) if t == "conversation.transferred"]
    assert moved and moved[-1]["agent"] == owner.pk
    assert moved[-1]["transfer"]["from_account"] == desk.agent.pk
    # the owner gets the conversation, the other watcher hears of it
    assert ("conversation.assigned", owner.pk) in [
        (t, d.get("agent")) for t, d in events_of(owner, desk.id)
    ]
    assert "conversation.transferred" in [t for t, _d in events_of(other, desk.id)]
    # an internal note records it, for staff only
    note = InternalNote.objects.get(conversation_id=desk.id)
    assert note.kind == NoteKind.TRANSFER and note.author_id == owner.pk
    assert note.body == f"Taken over from {desk.agent.label} by {owner.label}."
    assert note.body in desk.agent_client.get(desk.url("notes/")).content.decode()
    # the buyer hears of a transfer, never of the note
    notice = desk.buyer_client.get("/api/v1/widget/conversation/messages/").json()["results"][-1]
    assert notice["kind"] == "notice" and "transferred" in notice["body"]
    assert all("Taken over" not in str(e.payload) for e in buyer_events(desk))

    # the owner now replies as its own conversation; the former agent may not
    reply = owner_client.post(desk.url("messages/"), {"body": "I will help you"}, format="json")
    assert reply.status_code == 201
    assert (
        desk.agent_client.post(desk.url("messages/"), {"body": "x"}, format="json").status_code
        == 409
    )
    widget = desk.buyer_client.get("/api/v1/widget/conversation/messages/").json()["results"]
    assert widget[-1]["body"] == "I will help you"


def test_taking_over_needs_the_supervisor_to_be_there(shop_a):
    desk = served(shop_a)
    supervisor = monitor(shop_a, "lead", Perm.CHAT)  # offline: every account starts so
    refused = shop_a.client(supervisor).post(desk.url("take-over/"))
    assert refused.status_code == 409
    assert "online" in refused.json()["detail"]
    row = desk.row()
    assert (row.agent_id, row.state) == (desk.agent.pk, "active")
    assert not InternalNote.objects.exists()


def test_taking_over_a_closed_conversation_is_refused(shop_a):
    desk = served(shop_a)
    agent_set_status(account=shop_a.main, status=AgentStatus.ONLINE)
    desk.agent_client.post(desk.url("close/"))
    assert shop_a.client().post(desk.url("take-over/")).status_code == 409
    assert Conversation.objects.get(pk=desk.id).agent_id == desk.agent.pk


# --- The list to pick from -------------------------------------------------------------------


def test_the_live_list_shows_agent_buyer_last_message_and_whether_watched(shop_a):
    desk = served(shop_a, "b-1", agent_name="xiaowang")
    second = served(shop_a, "b-2", agent_name="xiaoli")
    buyer_writes(desk, "is it in stock?")
    supervisor = monitor(shop_a)
    client = shop_a.client(supervisor)
    client.post(second.url("watch/"))

    listed = client.get("/api/v1/conversations/live/")

    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.json()["results"]}
    assert set(rows) == {desk.id, second.id}
    first = rows[desk.id]
    assert first["agent_name"] == desk.agent.label
    assert first["buyer"]["external_id"] == "b-1"
    assert first["last_message"]["body"] == "is it in stock?"
    assert (first["watching"], rows[second.id]["watching"]) == (False, True)
    # closed conversations leave the list
    desk.agent_client.post(desk.url("close/"))
    assert [r["id"] for r in client.get("/api/v1/conversations/live/").json()["results"]] == [
        second.id
    ]
