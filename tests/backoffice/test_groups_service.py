"""Routing groups through the service (SPEC B2-B4, C1-C3): each change and what it does to the
open conversations in one transaction, scoped to the actor's shop (A1)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.backoffice.groups import GroupScope, group_create, group_delete, group_update
from apps.conversations.lifecycle import configuration
from apps.conversations.models import State
from apps.core.errors import InvalidInput, NotFound
from apps.routing.models import AgentState, Group
from apps.shops.models import ShopSettings
from conftest import ShopKit
from tests.conversations.conftest import Desk


def groups(kit: ShopKit) -> list[dict[str, Any]]:
    return list(Group.objects.filter(shop=kit.shop).order_by("pk").values())


def queue_groups(kit: ShopKit) -> list[int]:
    return ShopSettings.objects.get(shop=kit.shop).queue_groups


@pytest.fixture
def vip_desk(desk: Desk) -> tuple[Desk, Group, Any, Any, Any]:
    """A VIP group (segment ``member:vip``) whose one agent is at its max of one, its second VIP
    buyer waiting in the queue, and a free agent in no group."""
    desk.settings(default_max_concurrent=1)
    vip = desk.group("VIP", scope_segments=["member:vip"])
    vip_agent = desk.agent("vip-agent", group=vip)
    free_agent = desk.agent("free-agent")
    desk.ask(desk.buyer("v1", segments=["member:vip"]))
    waiting = desk.ask(desk.buyer("v2", segments=["member:vip"]))
    assert (waiting.state, waiting.candidate_ids) == (State.QUEUED, [vip_agent.pk])
    return desk, vip, vip_agent, free_agent, waiting


def test_deleting_a_group_gives_its_waiting_buyer_to_whoever_now_receives_it(vip_desk):
    # given the VIP buyer waits for the VIP agent while another agent is free
    desk, vip, vip_agent, free_agent, waiting = vip_desk
    # when the group is deleted (B2: the shop is back in simple mode)
    group_delete(actor=desk.kit.main, group_id=vip.pk)
    # then the buyer is decided again as if it asked now: every participant may take it (B4)
    moved = desk.fresh(waiting)
    assert (moved.state, moved.agent_id) == (State.ACTIVE, free_agent.pk)
    # and the VIP agent keeps its buyer, in no group
    assert AgentState.objects.get(account=vip_agent).group_id is None
    assert desk.load(vip_agent) == 1


def test_a_buyer_of_a_deleted_group_who_must_still_wait_keeps_its_place(vip_desk):
    # given the other agent is busy too
    desk, vip, vip_agent, free_agent, waiting = vip_desk
    first = desk.ask("someone")
    assert first.agent_id == free_agent.pk
    # when the group is deleted
    group_delete(actor=desk.kit.main, group_id=vip.pk)
    # then the buyer still waits, where it was, and either agent may now take it
    still = desk.fresh(waiting)
    assert (still.state, still.queued_at) == (State.QUEUED, waiting.queued_at)
    assert set(still.candidate_ids) == {vip_agent.pk, free_agent.pk, desk.kit.main.pk}
    desk.close(desk.fresh(first), free_agent)
    assert desk.fresh(waiting).agent_id == free_agent.pk


def test_deleting_a_group_takes_it_out_of_the_queueing_groups(desk: Desk):
    # C2: a deleted group queues no more; the others keep queueing
    first, second = desk.group("售前"), desk.group("售后")
    desk.settings(queue_mode="groups", queue_groups=[first.pk, second.pk])
    group_delete(actor=desk.kit.main, group_id=first.pk)
    assert queue_groups(desk.kit) == [second.pk]


def test_a_reroute_failing_half_way_keeps_the_group(vip_desk, monkeypatch):
    # given re-routing that fails after it has handed the waiting buyer out
    desk, vip, vip_agent, free_agent, waiting = vip_desk
    desk.settings(queue_mode="groups", queue_groups=[vip.pk])
    before = (groups(desk.kit), queue_groups(desk.kit))
    real_dispatch = configuration.dispatch

    def dispatch_then_fail(**kwargs: Any) -> Any:
        real_dispatch(**kwargs)
        raise RuntimeError("re-routing failed")

    monkeypatch.setattr(configuration, "dispatch", dispatch_then_fail)
    # when the group is deleted
    with pytest.raises(RuntimeError):
        group_delete(actor=desk.kit.main, group_id=vip.pk)
    # then nothing changed: the group, its members, the queueing groups, the waiting buyer
    assert (groups(desk.kit), queue_groups(desk.kit)) == before
    assert AgentState.objects.get(account=vip_agent).group_id == vip.pk
    assert (desk.fresh(waiting).state, desk.load(free_agent)) == (State.QUEUED, 0)


def test_raising_a_groups_max_hands_its_waiting_buyer_to_its_agent(vip_desk):
    # C1: the group's max applies to its members; C3: the raised max takes the next buyer
    desk, vip, vip_agent, _free_agent, waiting = vip_desk
    group_update(actor=desk.kit.main, group_id=vip.pk, max_concurrent=2)
    assert desk.fresh(waiting).agent_id == vip_agent.pk


def test_a_group_is_created_with_its_scope_values_once_each(desk: Desk):
    group = group_create(
        actor=desk.kit.main,
        name=" 金牌会员 ",
        max_concurrent=8,
        scope=GroupScope(segments=["member:gold", "member:gold"], order_statuses=["paid"]),
    )
    assert (group.shop_id, group.name, group.max_concurrent) == (desk.shop_id, "金牌会员", 8)
    assert (group.scope_segments, group.scope_order_statuses) == (["member:gold"], ["paid"])


def test_a_second_group_of_the_same_name_is_refused_and_nothing_changes(desk: Desk):
    group_create(actor=desk.kit.main, name="售前")
    other = group_create(actor=desk.kit.main, name="售后")
    before = groups(desk.kit)
    with pytest.raises(InvalidInput) as refused:
        group_create(actor=desk.kit.main, name="售前")
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput):
        group_update(actor=desk.kit.main, group_id=other.pk, name="售前")
    assert groups(desk.kit) == before


def test_another_shops_group_is_not_found_and_stays_as_it_is(desk: Desk, shop_b: ShopKit):
    # SPEC A1: the same answer as a missing group; their group, members and settings unchanged
    theirs = Group.objects.create(shop=shop_b.shop, name="theirs", max_concurrent=3)
    member = shop_b.sub("their-agent", group=theirs)
    ShopSettings.objects.filter(shop=shop_b.shop).update(queue_groups=[theirs.pk])
    before = groups(shop_b)
    with pytest.raises(NotFound):
        group_update(actor=desk.kit.main, group_id=theirs.pk, name="ours", max_concurrent=9)
    with pytest.raises(NotFound):
        group_delete(actor=desk.kit.main, group_id=theirs.pk)
    assert groups(shop_b) == before
    assert AgentState.objects.get(account=member).group_id == theirs.pk
    assert queue_groups(shop_b) == [theirs.pk]


def test_the_same_name_in_another_shop_is_fine(desk: Desk, shop_b: ShopKit):
    Group.objects.create(shop=shop_b.shop, name="售前")
    assert group_create(actor=desk.kit.main, name="售前").shop_id == desk.shop_id
