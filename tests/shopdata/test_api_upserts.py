"""The shop's own data pushed by external id (API.md, shop data; SPEC H2, A4)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.permissions import Perm
from apps.shopdata.models import Buyer, Order, Product
from tests.support.widget import widget_client

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

ORDER = {
    "buyer": "b-1",
    "status": "paid",
    "amount": "199.00",
    "shipping_fee": "10.00",
    "items": [{"product": "sku-1", "name": "运动鞋", "quantity": 1, "price": "189.00"}],
    "paid_at": "2025-06-01T10:05:00+08:00",
    "created_at": "2025-06-01T10:00:00+08:00",
}


def counts() -> tuple[int, int, int]:
    return Buyer.objects.count(), Product.objects.count(), Order.objects.count()


def buyer_rows(kit: Any) -> list[dict[str, Any]]:
    return list(Buyer.objects.filter(shop=kit.shop).order_by("pk").values())


# Buyers


def test_pushing_a_buyer_twice_creates_it_then_updates_it(shop_a):
    # SPEC H2: idempotent upsert by external id: 201 when created, 200 when updated, one row
    client = shop_a.client()
    first = client.put(
        "/api/v1/buyers/b-1/",
        {"name": "张三", "segments": ["member:gold", " region:zhejiang ", "member:gold"]},
        format="json",
    )
    assert first.status_code == 201, first.content
    assert first.json() == {
        "external_id": "b-1",
        "name": "张三",
        "segments": ["member:gold", "region:zhejiang"],
        "channel": "",
    }
    again = client.put(
        "/api/v1/buyers/b-1/",
        {"name": "张三丰", "segments": ["member:silver"], "channel": "app"},
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["segments"] == ["member:silver"] and again.json()["channel"] == "app"
    buyer = Buyer.objects.get(shop=shop_a.shop, external_id="b-1")
    assert (buyer.name, buyer.segments) == ("张三丰", ["member:silver"])
    assert Buyer.objects.filter(shop=shop_a.shop).count() == 1


def test_the_same_external_id_in_two_shops_is_two_buyers(shop_a, shop_b):
    # SPEC A1: external ids are per shop
    shop_b.client().put("/api/v1/buyers/b-1/", {"name": "B's"}, format="json")
    response = shop_a.client().put("/api/v1/buyers/b-1/", {"name": "A's"}, format="json")
    assert response.status_code == 201
    assert Buyer.objects.get(shop=shop_b.shop, external_id="b-1").name == "B's"


@pytest.mark.parametrize(
    ("external_id", "body", "field"),
    [
        ("b-1", {"segments": "member:gold"}, "segments"),
        ("b-1", {"segments": ["x" * 65]}, "segments"),
        ("b-1", {"name": "n" * 101}, "name"),
        ("b-1", {"channel": "c" * 33}, "channel"),
        ("x" * 65, {"name": "n"}, "external_id"),
        ("%20", {"name": "n"}, "external_id"),
        ("a%00b", {"name": "n"}, "external_id"),  # never 500 for input
        ("a%09b", {"name": "n"}, "external_id"),
    ],
)
def test_bad_buyer_is_refused_and_nothing_is_stored(shop_a, external_id, body, field):
    # API.md General: 400 with the field; SPEC N: nothing stored
    response = shop_a.client().put(f"/api/v1/buyers/{external_id}/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert counts() == (0, 0, 0)


# Products


def test_pushing_a_product_creates_it_then_updates_it(shop_a):
    # SPEC H2, B4: a product with its category (scopes name `category:<name>`)
    client = shop_a.client()
    first = client.put("/api/v1/products/sku-1/", {"name": "运动鞋"}, format="json")
    assert first.status_code == 201
    assert first.json() == {"external_id": "sku-1", "name": "运动鞋", "category": ""}
    again = client.put(
        "/api/v1/products/sku-1/", {"name": "跑鞋", "category": "shoes"}, format="json"
    )
    assert again.status_code == 200 and again.json()["category"] == "shoes"
    assert Product.objects.get(shop=shop_a.shop).name == "跑鞋"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "p", "category": "c" * 65}, "category")],
)
def test_bad_product_is_refused_and_nothing_is_stored(shop_a, body, field):
    response = shop_a.client().put("/api/v1/products/sku-1/", body, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert counts() == (0, 0, 0)


# Orders


def test_pushing_an_order_creates_it_then_updates_its_status(shop_a):
    # SPEC H2, B4 (the status of the buyer's latest order routes it)
    client = shop_a.client()
    client.put("/api/v1/buyers/b-1/", {"name": "张三"}, format="json")
    first = client.put("/api/v1/orders/o-1/", ORDER, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["external_id"], body["buyer"], body["status"]) == ("o-1", "b-1", "paid")
    assert (body["amount"], body["shipping_fee"]) == ("199.00", "10.00")
    assert body["items"] == [
        {"product": "sku-1", "name": "运动鞋", "quantity": 1, "price": "189.00"}
    ]
    assert body["paid_at"] is not None and body["created_at"] is not None
    again = client.put("/api/v1/orders/o-1/", {**ORDER, "status": "shipped"}, format="json")
    assert again.status_code == 200 and again.json()["status"] == "shipped"
    assert list(Order.objects.filter(shop=shop_a.shop).values_list("status", flat=True)) == [
        "shipped"
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"buyer": "nobody"}, "buyer"),
        ({"status": "lost"}, "status"),
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"shipping_fee": "abc"}, "shipping_fee"),
        ({"items": [{"name": "x", "price": "1.00", "quantity": 0}]}, "items"),
        ({"items": [{"price": "1.00"}]}, "items"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": None}, "created_at"),
    ],
)
def test_bad_order_is_refused_and_nothing_is_stored(shop_a, change, field):
    # API.md General: 400 with the field; an unknown buyer must be pushed first
    shop_a.client().put("/api/v1/buyers/b-1/", {"name": "张三"}, format="json")
    response = shop_a.client().put("/api/v1/orders/o-1/", {**ORDER, **change}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert counts() == (1, 0, 0)


def test_an_order_cannot_name_another_shops_buyer(shop_a, shop_b):
    # SPEC A1: the buyer is looked up in the caller's shop only
    shop_b.client().put("/api/v1/buyers/b-1/", {"name": "B's"}, format="json")
    response = shop_a.client().put("/api/v1/orders/o-1/", ORDER, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["buyer"]
    assert Order.objects.count() == 0


# Who may push


def test_sub_account_with_manage_settings_pushes_shop_data(shop_a):
    # API.md: the main account or a sub-account with manage_settings
    client = shop_a.client(shop_a.sub("erp", {Perm.MANAGE_SETTINGS}))
    assert client.put("/api/v1/buyers/b-1/", {"name": "n"}, format="json").status_code == 201
    assert client.put("/api/v1/products/p-1/", {"name": "n"}, format="json").status_code == 201
    assert client.put("/api/v1/orders/o-1/", ORDER, format="json").status_code == 201


@pytest.mark.parametrize("perms", [set(), {Perm.CHAT, Perm.MANAGE_ROUTING, Perm.HANDLE_ORDERS}])
def test_sub_account_without_manage_settings_cannot_push_shop_data(shop_a, perms):
    # API.md: 403, nothing stored or changed
    shop_a.client().put("/api/v1/buyers/b-1/", {"name": "张三"}, format="json")
    before = buyer_rows(shop_a)
    client = shop_a.client(shop_a.sub("agent", perms))
    assert client.put("/api/v1/buyers/b-1/", {"name": "改"}, format="json").status_code == 403
    assert client.put("/api/v1/buyers/b-2/", {"name": "n"}, format="json").status_code == 403
    assert client.put("/api/v1/products/p-1/", {"name": "n"}, format="json").status_code == 403
    assert client.put("/api/v1/orders/o-1/", ORDER, format="json").status_code == 403
    assert buyer_rows(shop_a) == before
    assert counts() == (1, 0, 0)


def test_shop_data_needs_staff_credentials(shop_a, anon):
    # API.md General: 401 unauthenticated; a buyer token is not accepted
    buyer = widget_client(shop_a.shop, "b-1")
    before = counts()
    for client in (anon, buyer):
        assert client.put("/api/v1/buyers/b-1/", {"name": "x"}, format="json").status_code == 401
        assert client.put("/api/v1/products/p/", {"name": "x"}, format="json").status_code == 401
        assert client.put("/api/v1/orders/o-1/", ORDER, format="json").status_code == 401
    assert counts() == before


def test_upserts_answer_put_only(shop_a):
    # API.md lists PUT; reading back is not part of the contract
    shop_a.client().put("/api/v1/buyers/b-1/", {"name": "n"}, format="json")
    assert shop_a.client().get("/api/v1/buyers/b-1/").status_code == 405
    assert shop_a.client().delete("/api/v1/buyers/b-1/").status_code == 405
