"""Issue 10, on the server: the staff's live queue counts (E1, ``queue.changed``, coalesced),
internal notes live (I3, ``note.created``), the widget's queue mode in ``groups`` mode (amended
C2, seed 004: a buyer whose group does not queue skips the assistant) and the main account
handing a pooled conversation to a chosen agent (seed 000, 第五步)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from apps.accounts.permissions import Perm
from apps.conversations import events as catalogue
from apps.conversations import lifecycle
from apps.conversations.lifecycle import queue_news
from apps.conversations.models import Conversation, State
from apps.conversations.notes import internal_note_add
from apps.core import coalesce
from apps.events.models import Event
from apps.shops.models import Shop
from conftest import ShopKit
from tests.conversations.conftest import Desk
from tests.support.coalesce import Clock, stepped
from tests.support.widget import widget_client

pytestmark = pytest.mark.django_db


def queue_events(shop_id: int, account_id: int) -> list[dict[str, Any]]:
    rows = Event.objects.filter(
        shop_id=shop_id, type="queue.changed", recipient_kind="account", recipient_id=account_id
    ).order_by("stream_seq")
    for row in rows:
        Draft202012Validator(catalogue.schema("queue.changed")).validate(row.payload)
    return [row.payload for row in rows]


def store_requests(desk: Desk, *names: str) -> list[Conversation]:
    """Requests for a human stored and not yet decided (the widget's first request does so)."""
    return [lifecycle.conversation_open(buyer=desk.buyer(name), human=True) for name in names]


@pytest.fixture
def news(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stepped]:
    """The queue's coalescer, on, stepped by the test; each ``tell()`` lets a second pass first
    (the gate of the previous run expires) and runs what was marked."""
    with stepped(queue_news.QUEUE_TOPIC, settings, monkeypatch) as (coalescer, clock):
        yield Stepped(coalescer, clock)


class Stepped:
    def __init__(self, coalescer: coalesce.Coalescer, clock: Clock) -> None:
        self.coalescer = coalescer
        self.clock = clock

    def tell(self) -> list[int]:
        self.clock.now += 5
        return self.coalescer.step()


# ---------------------------------------------------------------------------------------------
# E1: the queue's counts, live and coalesced


@pytest.mark.django_db(transaction=True)
def test_a_pass_that_queues_a_burst_tells_each_agent_once(
    desk: Desk, shop_b: ShopKit, news: Stepped
) -> None:
    # given one agent, busy, and a colleague who cannot chat
    agent = desk.agent("a", max_concurrent=1)
    watcher = desk.kit.sub("watcher", {Perm.VIEW_MONITOR})
    desk.ask("first")
    news.tell()
    before = len(queue_events(desk.shop_id, agent.pk))
    # when three buyers' requests are decided in one pass
    store_requests(desk, "b1", "b2", "b3")
    lifecycle.route_pending(shop_id=desk.shop_id)
    assert news.tell() == [desk.shop_id]
    # then the agent and the main account get one queue.changed each, with the new length
    got = queue_events(desk.shop_id, agent.pk)[before:]
    assert got == [{"waiting": 3, "by_group": [], "queue_mode": "shop"}]
    assert queue_events(desk.shop_id, desk.kit.main.pk)[-1]["waiting"] == 3
    # never an account that receives no buyers, a buyer, nor another shop
    assert queue_events(desk.shop_id, watcher.pk) == []
    assert not Event.objects.filter(type="queue.changed", recipient_kind="buyer").exists()
    assert not Event.objects.filter(shop_id=shop_b.shop.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_changes_within_a_second_give_one_event_then_the_trailing_one(
    desk: Desk, news: Stepped
) -> None:
    # E1 coalesced as the board (G2): at most one a second per shop, the last change not lost
    agent = desk.agent("a", max_concurrent=1)
    desk.ask("first")
    desk.ask("b1")
    assert news.tell() == [desk.shop_id]
    before = len(queue_events(desk.shop_id, agent.pk))
    # when two more buyers queue within the same second
    desk.ask("b2")
    assert news.tell() == [desk.shop_id]  # the gate of the last run has expired
    news.clock.now += 0.3
    desk.ask("b3")
    assert news.coalescer.step() == []
    assert [e["waiting"] for e in queue_events(desk.shop_id, agent.pk)[before:]] == [2]
    # then the trailing one, once the second is over, has the last length
    due = news.coalescer.next_due()
    assert due is not None
    news.clock.now = due
    assert news.coalescer.step() == [desk.shop_id]
    assert [e["waiting"] for e in queue_events(desk.shop_id, agent.pk)[before:]] == [2, 3]


@pytest.mark.django_db(transaction=True)
def test_leaving_and_being_taken_from_the_queue_tell_the_agents(desk: Desk, news: Stepped) -> None:
    agent = desk.agent("a", max_concurrent=1)
    held = desk.ask("first")
    waiting = [desk.ask(name) for name in ("b1", "b2", "b3")]
    assert all(c.state == State.QUEUED for c in waiting)
    news.tell()
    assert queue_events(desk.shop_id, agent.pk)[-1]["waiting"] == 3
    # a buyer leaves the queue (C5)
    lifecycle.conversation_leave(conversation=waiting[1])
    news.tell()
    assert queue_events(desk.shop_id, agent.pk)[-1]["waiting"] == 2
    # the agent ends its chat: the freed slot takes the first waiting buyer (C3), one event
    before = len(queue_events(desk.shop_id, agent.pk))
    desk.close(desk.fresh(held), actor=agent)
    news.tell()
    after = queue_events(desk.shop_id, agent.pk)[before:]
    assert [e["waiting"] for e in after] == [1]
    assert desk.fresh(waiting[0]).state == State.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_the_counts_per_group_are_the_buyers_its_members_may_take(
    desk: Desk, news: Stepped
) -> None:
    # given two groups, each with one full agent; buyers scoped to the first group
    vip = desk.group("vip", scope_segments=["vip"])
    rest = desk.group("rest")
    a = desk.agent("a", group=vip, max_concurrent=1)
    desk.agent("b", group=rest, max_concurrent=1)
    desk.ask(desk.buyer("v0", segments=["vip"]))
    desk.ask(desk.buyer("r0"))
    # when two vip buyers and one other buyer wait
    for name in ("v1", "v2"):
        desk.ask(desk.buyer(name, segments=["vip"]))
    desk.ask(desk.buyer("r1"))
    news.tell()
    # then each group's count is its own buyers'
    last = queue_events(desk.shop_id, a.pk)[-1]
    assert last["waiting"] == 3
    assert last["by_group"] == [
        {"group": vip.pk, "waiting": 2},
        {"group": rest.pk, "waiting": 1},
    ]


@pytest.mark.django_db(transaction=True)
def test_a_status_change_that_empties_the_queue_tells_once(desk: Desk, news: Stepped) -> None:
    a = desk.agent("a", max_concurrent=1)
    late = desk.agent("late", status="offline", max_concurrent=5)
    desk.ask("first")
    for name in ("b1", "b2"):
        desk.ask(name)
    news.tell()
    before = len(queue_events(desk.shop_id, a.pk))
    desk.status(late, "online")  # takes both waiting buyers in one dispatch
    news.tell()
    assert [e["waiting"] for e in queue_events(desk.shop_id, a.pk)[before:]] == [0]


def test_nothing_is_told_while_the_coalescer_is_off(desk: Desk) -> None:
    # the suite's default (root conftest): no event, and no daemon thread in other streams
    agent = desk.agent("a", max_concurrent=1)
    desk.ask("first")
    desk.ask("b1")
    assert queue_events(desk.shop_id, agent.pk) == []


# ---------------------------------------------------------------------------------------------
# I3: internal notes live


def test_a_note_reaches_the_holding_agent_and_the_author_never_the_buyer(desk: Desk) -> None:
    agent = desk.agent("a")
    other = desk.agent("other", status="offline")
    conversation = desk.ask("b1")
    assert conversation.agent_id == agent.pk
    note = internal_note_add(conversation=conversation, author=desk.kit.main, body="VIP, be kind")
    rows = Event.objects.filter(type="note.created")
    assert {(e.recipient_kind, e.recipient_id) for e in rows} == {
        ("account", agent.pk),
        ("account", desk.kit.main.pk),
    }
    payload = rows.first().payload  # type: ignore[union-attr]
    Draft202012Validator(catalogue.schema("note.created")).validate(payload)
    assert payload["id"] == note.pk and payload["conversation"] == conversation.pk
    assert payload["body"] == "VIP, be kind" and payload["author"] == desk.kit.main.pk
    assert not Event.objects.filter(recipient_kind="buyer", type="note.created").exists()
    assert not Event.objects.filter(recipient_id=other.pk, type="note.created").exists()


# ---------------------------------------------------------------------------------------------
# Amended C2 (seed 004): in groups mode, a buyer whose group does not queue skips the assistant


def groups_mode(desk: Desk) -> tuple[Any, Any]:
    presale = desk.group("presale", scope_segments=["new"])
    aftersale = desk.group("aftersale")
    desk.settings(queue_mode="groups", queue_groups=[presale.pk])
    desk.agent("p", group=presale)
    desk.agent("s", group=aftersale)
    return presale, aftersale


def test_groups_mode_a_buyer_of_a_group_that_does_not_queue_goes_straight_to_a_human(
    desk: Desk,
) -> None:
    _presale, aftersale = groups_mode(desk)
    # when a buyer of the group that does not queue opens the widget, without asking
    conversation = lifecycle.conversation_open(buyer=desk.buyer("old"))
    # then it skips the service assistant and is routed at once, within its group
    assert conversation.state == State.ACTIVE
    assert conversation.group_id == aftersale.pk
    assert conversation.human_requested_at is not None


def test_groups_mode_a_buyer_of_a_queueing_group_meets_the_assistant_first(desk: Desk) -> None:
    groups_mode(desk)
    conversation = lifecycle.conversation_open(buyer=desk.buyer("fresh", segments=["new"]))
    assert conversation.state == State.ASSISTANT
    assert conversation.human_requested_at is None


@pytest.mark.parametrize("mode", ["shop", "off"])
def test_other_queue_modes_keep_the_assistant(desk: Desk, mode: str) -> None:
    desk.agent("a")
    desk.settings(queue_mode=mode)
    conversation = lifecycle.conversation_open(buyer=desk.buyer("b1"))
    assert conversation.state == State.ASSISTANT


def test_groups_mode_through_the_widget(desk: Desk) -> None:
    groups_mode(desk)
    shop = Shop.objects.get(pk=desk.shop_id)
    client = widget_client(shop, "old-buyer")
    response = client.post("/api/v1/widget/conversation/", {"human": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "active"
    # and the appearance says the shop queues by groups, so the chat window can tell
    appearance = client.get(f"/api/v1/widget/appearance/{shop.slug}/").json()
    assert appearance["queue_mode"] == "groups"


# ---------------------------------------------------------------------------------------------
# Seed 000 (第五步): the main account hands a pooled conversation to an online agent


@pytest.fixture
def pooled(desk: Desk) -> tuple[Desk, Conversation, Any]:
    desk.settings(offline_handling="pool", pool_auto_assign=False)
    agent = desk.agent("a", status="offline")
    conversation = desk.ask("b1")
    assert conversation.state == State.POOLED
    desk.status(agent, "online")
    assert desk.fresh(conversation).state == State.POOLED  # no auto-assign
    return desk, conversation, agent


def test_the_main_account_hands_a_pooled_conversation_to_a_chosen_agent(pooled: Any) -> None:
    desk, conversation, agent = pooled
    response = desk.kit.client().post(
        f"/api/v1/conversations/{conversation.pk}/transfer/",
        {"to_account": agent.pk, "note": "please call back"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["agent"], body["from_offline_message"]) == (
        "active",
        agent.pk,
        True,
    )
    assert desk.load(agent) == 1
    assert Event.objects.filter(
        type="conversation.assigned", recipient_id=agent.pk, payload__id=conversation.pk
    ).exists()


def test_only_the_main_account_hands_out_the_pool_and_only_to_an_online_agent(
    pooled: Any, shop_b: ShopKit
) -> None:
    desk, conversation, agent = pooled
    url = f"/api/v1/conversations/{conversation.pk}/transfer/"
    # a sub-account cannot (it holds nothing: 409 or 403), nothing changes
    response = desk.kit.client(agent).post(url, {"to_account": agent.pk}, format="json")
    assert response.status_code in (403, 404, 409)
    # an offline agent cannot receive it
    away = desk.agent("away", status="offline")
    response = desk.kit.client().post(url, {"to_account": away.pk}, format="json")
    assert response.status_code == 409
    # another shop's account is not found
    response = desk.kit.client().post(url, {"to_account": shop_b.main.pk}, format="json")
    assert response.status_code == 404
    assert desk.fresh(conversation).state == State.POOLED
    assert desk.load(agent) == 0
