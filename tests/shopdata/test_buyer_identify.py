"""A buyer named by external id outside the shop's own pushes (widget sessions, private
contacts): stored on first sight, never overwriting what the shop pushed (SPEC H2, H3)."""

from __future__ import annotations

import pytest

from apps.shopdata.models import Buyer
from apps.shopdata.services import buyer_identify, buyer_upsert
from conftest import ShopKit


def test_a_new_buyer_is_stored_with_its_name(shop_a: ShopKit):
    buyer, created = buyer_identify(shop_id=shop_a.shop.pk, external_id=" u1 ", name=" 张三 ")
    assert created and (buyer.shop_id, buyer.external_id, buyer.name) == (
        shop_a.shop.pk,
        "u1",
        "张三",
    )


def test_a_pushed_buyers_name_and_segments_are_kept(shop_a: ShopKit):
    pushed, _created = buyer_upsert(
        shop_id=shop_a.shop.pk, external_id="u1", name="Pushed", segments=["member:gold"]
    )
    buyer, created = buyer_identify(shop_id=shop_a.shop.pk, external_id="u1", name="Typed")
    assert not created and buyer.pk == pushed.pk
    buyer.refresh_from_db()
    assert (buyer.name, buyer.segments) == ("Pushed", ["member:gold"])


def test_a_missing_name_is_filled_in(shop_a: ShopKit):
    buyer_identify(shop_id=shop_a.shop.pk, external_id="u1")
    buyer, _created = buyer_identify(shop_id=shop_a.shop.pk, external_id="u1", name="李四")
    assert Buyer.objects.get(pk=buyer.pk).name == "李四"


def test_the_same_id_in_another_shop_is_another_buyer(shop_a: ShopKit, shop_b: ShopKit):
    theirs, _created = buyer_identify(shop_id=shop_b.shop.pk, external_id="u1", name="B")
    ours, created = buyer_identify(shop_id=shop_a.shop.pk, external_id="u1", name="A")
    assert created and ours.pk != theirs.pk
    assert Buyer.objects.get(pk=theirs.pk).name == "B"


def test_a_bad_id_names_the_callers_field(shop_a: ShopKit):
    from apps.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        buyer_identify(shop_id=shop_a.shop.pk, external_id="x\x00", field="buyer_id")
    assert refused.value.field == "buyer_id"
    assert not Buyer.objects.exists()
