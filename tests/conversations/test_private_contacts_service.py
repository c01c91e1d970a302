"""Private contacts through the service (SPEC B8), scoped to the actor's shop (A1)."""

from __future__ import annotations

import pytest

from apps.conversations.contacts import private_contact_add, private_contact_remove
from apps.conversations.models import PrivateContact
from apps.core.errors import InvalidInput, NotFound
from apps.shopdata.models import Buyer
from conftest import ShopKit
from tests.conversations.conftest import Desk


def listed(kit: ShopKit) -> list[str]:
    return list(
        PrivateContact.objects.filter(shop=kit.shop)
        .order_by("pk")
        .values_list("buyer__external_id", flat=True)
    )


def test_a_private_buyer_goes_to_the_offline_main_account_and_not_to_the_online_agent(desk: Desk):
    # given an online agent, and the buyer made private by the main account
    agent = desk.agent("agent1")
    private_contact_add(actor=desk.kit.main, buyer_external_id=" vip-1 ")
    # when the buyer asks for a human
    conversation = desk.ask("vip-1")
    # then it goes to the main account, offline as it is (B8)
    assert conversation.agent_id == desk.kit.main.pk != agent.pk


def test_adding_names_this_shops_buyer_and_leaves_the_other_shops_alone(
    desk: Desk, shop_b: ShopKit
):
    # SPEC A1: the same external id in another shop is another buyer
    theirs = Buyer.objects.create(shop=shop_b.shop, external_id="vip-1", name="theirs")
    contact = private_contact_add(actor=desk.kit.main, buyer_external_id="vip-1")
    assert contact.shop_id == contact.buyer.shop_id == desk.shop_id
    assert contact.buyer_id != theirs.pk
    assert listed(desk.kit) == ["vip-1"] and listed(shop_b) == []


def test_adding_twice_keeps_one_entry(desk: Desk):
    first = private_contact_add(actor=desk.kit.main, buyer_external_id="vip-1")
    again = private_contact_add(actor=desk.kit.main, buyer_external_id="vip-1")
    assert first.pk == again.pk and listed(desk.kit) == ["vip-1"]


def test_removing_another_shops_private_buyer_is_not_found_and_keeps_it(
    desk: Desk, shop_b: ShopKit
):
    private_contact_add(actor=shop_b.main, buyer_external_id="vip-1")
    with pytest.raises(NotFound):
        private_contact_remove(actor=desk.kit.main, buyer_external_id="vip-1")
    assert listed(shop_b) == ["vip-1"]


def test_removing_takes_the_buyer_off_the_list_and_keeps_the_buyer(desk: Desk):
    private_contact_add(actor=desk.kit.main, buyer_external_id="vip-1")
    private_contact_remove(actor=desk.kit.main, buyer_external_id="vip-1")
    assert listed(desk.kit) == []
    assert Buyer.objects.filter(shop=desk.kit.shop, external_id="vip-1").exists()


@pytest.mark.parametrize("external_id", ["", "   ", "b" * 65, "vip\x01"])
def test_a_bad_external_id_is_refused_and_nothing_is_stored(desk: Desk, external_id: str):
    with pytest.raises(InvalidInput) as refused:
        private_contact_add(actor=desk.kit.main, buyer_external_id=external_id)
    assert refused.value.field == "buyer"
    assert listed(desk.kit) == [] and not Buyer.objects.filter(shop=desk.kit.shop).exists()
