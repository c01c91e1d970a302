"""Changing the shop's settings through the service (API.md, settings fields): the write and its
re-routing in one transaction (SPEC B9, B11, C1-C3), scoped to the actor's shop (A1)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.backoffice.shop_settings import settings_update
from apps.conversations.lifecycle import configuration
from apps.conversations.models import State
from apps.core.errors import InvalidFields, InvalidInput
from apps.routing import engine
from apps.routing.models import Group
from apps.shops.models import ShopSettings
from conftest import ShopKit
from tests.conversations.conftest import Desk


def stored(kit: ShopKit) -> dict[str, Any]:
    return ShopSettings.objects.filter(shop=kit.shop).values().get()


def test_raising_the_shop_max_gives_the_waiting_buyer_the_free_slot_at_once(desk: Desk):
    # given an online agent at its max of one and a second buyer waiting (C1, C3)
    desk.settings(default_max_concurrent=1)
    agent = desk.agent("agent1")
    desk.ask("b1")
    waiting = desk.ask("b2")
    assert waiting.state == State.QUEUED
    # when the shop's max is raised
    settings_update(actor=desk.kit.main, changes={"default_max_concurrent": 2})
    # then the waiting buyer is with the agent, before the call returns
    waiting = desk.fresh(waiting)
    assert (waiting.state, waiting.agent_id) == (State.ACTIVE, agent.pk)
    assert desk.load(agent) == 2


def test_switching_the_queue_off_hands_out_every_waiting_buyer(desk: Desk):
    # given an agent at its max and two buyers in the queue
    desk.settings(default_max_concurrent=1)
    agent = desk.agent("agent1")
    desk.ask("b1")
    waiting = [desk.ask("b2"), desk.ask("b3")]
    assert [c.state for c in waiting] == [State.QUEUED, State.QUEUED]
    # when the queue is switched off (C2: max concurrent is no longer enforced)
    settings_update(actor=desk.kit.main, changes={"queue_mode": "off"})
    # then nobody waits any more
    assert [desk.fresh(c).agent_id for c in waiting] == [agent.pk, agent.pk]
    assert desk.load(agent) == 3


def test_switching_offline_routing_on_reroutes_what_an_offline_agent_kept(desk: Desk):
    # given offline routing off: an agent who went offline kept its buyer (B9 off, a)
    desk.settings(offline_routing=False)
    leaver = desk.agent("leaver")
    kept = desk.ask("b1")
    desk.status(leaver, "offline")
    assert (desk.fresh(kept).state, desk.fresh(kept).agent_id) == (State.ACTIVE, leaver.pk)
    other = desk.agent("other")
    # when offline routing is switched on
    settings_update(actor=desk.kit.main, changes={"offline_routing": True})
    # then the kept buyer is re-routed as B9a would have done: to the eligible agent
    moved = desk.fresh(kept)
    assert (moved.state, moved.agent_id) == (State.ACTIVE, other.pk)
    assert (desk.load(leaver), desk.load(other)) == (0, 1)


def test_switching_offline_routing_on_leaves_the_offline_main_accounts_messages(desk: Desk):
    # given the main account went offline, then a buyer came while nobody was online: B11
    # main_account gave it to the offline main account; and a private contact waits for it too
    desk.settings(offline_routing=False)
    main = desk.kit.main
    desk.status(main, "online")
    desk.status(main, "offline")
    offline_message = desk.ask("b1")
    assert offline_message.assign_reason == engine.Reason.OFFLINE_MAIN
    agent = desk.agent("agent1")
    # when offline routing is switched on
    settings_update(actor=main, changes={"offline_routing": True})
    # then it stays with the main account (B9a never applied to it), and the agent is free
    assert desk.fresh(offline_message).agent_id == main.pk
    assert desk.load(agent) == 0


def test_switching_offline_routing_off_moves_nobody(desk: Desk):
    # B9 off applies to agents who go offline from now on; nothing held moves
    agent = desk.agent("agent1")
    held = desk.ask("b1")
    settings_update(actor=desk.kit.main, changes={"offline_routing": False})
    assert desk.fresh(held).agent_id == agent.pk
    assert stored(desk.kit)["offline_routing"] is False


def test_a_reroute_failing_half_way_undoes_the_settings_change(desk: Desk, monkeypatch):
    # given a waiting buyer, and re-routing that fails after it has handed the buyer out
    desk.settings(default_max_concurrent=1)
    agent = desk.agent("agent1")
    desk.ask("b1")
    waiting = desk.ask("b2")
    before = stored(desk.kit)
    real_dispatch = configuration.dispatch

    def dispatch_then_fail(**kwargs: Any) -> Any:
        assert real_dispatch(**kwargs), "the buyer was handed out before the failure"
        raise RuntimeError("re-routing failed")

    monkeypatch.setattr(configuration, "dispatch", dispatch_then_fail)
    # when the max is raised
    with pytest.raises(RuntimeError):
        settings_update(actor=desk.kit.main, changes={"default_max_concurrent": 5})
    # then nothing was written: the settings, the queue and the agent's load are as they were
    assert stored(desk.kit) == before
    assert desk.fresh(waiting).state == State.QUEUED
    assert desk.load(agent) == 1


def test_taking_a_group_out_of_the_queueing_groups_hands_its_waiting_buyer_out(desk: Desk):
    # given groups queue mode: the group's agent at max, its second buyer waiting (C2)
    group = desk.group("售前", max_concurrent=1)
    desk.settings(queue_mode="groups", queue_groups=[group.pk])
    agent = desk.agent("agent1", group=group)
    desk.ask("b1")
    waiting = desk.ask("b2")
    assert waiting.state == State.QUEUED
    # when the group stops queueing
    settings_update(actor=desk.kit.main, changes={"queue_groups": []})
    # then max is not enforced for it: the buyer is with the agent
    assert desk.fresh(waiting).agent_id == agent.pk
    assert desk.load(agent) == 2


def test_queue_off_with_every_candidate_paused_sends_the_waiting_buyer_to_offline_handling(
    desk: Desk,
):
    # amended C2/B11: with the queue off and every candidate paused, B11 applies
    desk.settings(default_max_concurrent=1, offline_handling="pool")
    agent = desk.agent("agent1")
    desk.ask("b1")
    waiting = desk.ask("b2")
    desk.status(agent, "paused")
    assert desk.fresh(waiting).state == State.QUEUED
    settings_update(actor=desk.kit.main, changes={"queue_mode": "off"})
    assert desk.fresh(waiting).state == State.POOLED


def test_a_warning_not_before_its_timeout_is_refused_with_every_field_and_nothing_changes(
    desk: Desk,
):
    # API.md General: 400 with the fields; checked on the merged values (SPEC D5, D6)
    desk.settings(buyer_silence_seconds=300, agent_silence_seconds=180)
    before = stored(desk.kit)
    with pytest.raises(InvalidFields) as refused:
        settings_update(
            actor=desk.kit.main,
            changes={
                "buyer_warning_seconds": 300,
                "agent_warning_seconds": 200,
                "welcome_text": "hi",
            },
        )
    assert set(refused.value.as_payload()["errors"]) == {
        "buyer_warning_seconds",
        "agent_warning_seconds",
    }
    assert stored(desk.kit) == before


def test_another_shops_group_cannot_queue_in_this_shop(desk: Desk, shop_b: ShopKit):
    # SPEC A1, C2: another shop's group id reads as unknown; nothing changes in either shop
    theirs = Group.objects.create(shop=shop_b.shop, name="售后")
    before = (stored(desk.kit), stored(shop_b))
    with pytest.raises(InvalidFields) as refused:
        settings_update(
            actor=desk.kit.main, changes={"queue_mode": "groups", "queue_groups": [theirs.pk]}
        )
    assert list(refused.value.as_payload()["errors"]) == ["queue_groups"]
    assert (stored(desk.kit), stored(shop_b)) == before


def test_the_change_lands_in_the_actors_shop_only(desk: Desk, shop_b: ShopKit):
    # SPEC A1: the service takes no shop; the actor's is the only one it can reach
    theirs = stored(shop_b)
    settings_update(actor=desk.kit.main, changes={"queue_order": "newest_first"})
    assert stored(desk.kit)["queue_order"] == "newest_first"
    assert stored(shop_b) == theirs


def test_the_widget_secret_is_not_written_through_an_update(desk: Desk):
    # H3: rotated on its own, never set to a chosen value
    before = stored(desk.kit)
    with pytest.raises(InvalidInput):
        settings_update(actor=desk.kit.main, changes={"widget_secret": "mine"})
    assert stored(desk.kit) == before


@pytest.mark.parametrize(
    "value",
    [
        # two slots of one day overlapping (SPEC D2)
        {
            "weekly": [
                {"weekday": 0, "start": "08:00", "end": "12:00"},
                {"weekday": 0, "start": "11:00", "end": "19:00"},
            ],
            "exceptions": [],
        },
        # a date both closed and open
        {
            "weekly": [],
            "exceptions": [
                {"date": "2026-12-12", "closed": True},
                {"date": "2026-12-12", "closed": False, "start": "10:00", "end": "16:00"},
            ],
        },
        # not a business-hours value at all
        {"weekly": [{"weekday": 0}], "exceptions": []},
    ],
)
def test_business_hours_rules_hold_in_the_service_whoever_calls_it(desk: Desk, value: Any):
    # the API's serializer and the hours page check the shapes; the service keeps the rules
    before = stored(desk.kit)
    with pytest.raises(InvalidFields) as refused:
        settings_update(actor=desk.kit.main, changes={"business_hours": value})
    assert list(refused.value.as_payload()["errors"]) == ["business_hours"]
    assert stored(desk.kit) == before
