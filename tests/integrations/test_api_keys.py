"""API keys (SPEC H2; API.md, "Integration keys"; issue 12, must show 1): made by the main
account or manage_settings, shown once, stored hashed, listed with their last use, revoked at
once; a key pushes its shop's data and manages its webhooks, and nothing else."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.integrations.models import ApiKey, Webhook
from apps.shopdata.models import AfterSale, Buyer, Order, Product, Visit
from conftest import ShopKit

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
AFTER_SALE = {
    "order": "o-1",
    "buyer": "b-1",
    "type": "refund_only",
    "status": "待处理",
    "amount": "50.00",
}


def t0() -> datetime:
    return datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


def make_key(kit: ShopKit, name: str = "ERP") -> dict:
    response = kit.client().post("/api/v1/api-keys/", {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_a_key_is_shown_once_and_stored_hashed(shop_a):
    # SPEC H2: named, the key in the creation's answer only, its SHA-256 kept
    made = make_key(shop_a, "ERP sync")
    assert set(made) == {"id", "name", "prefix", "key", "created_at"}
    assert made["name"] == "ERP sync" and made["key"].startswith(made["prefix"])
    row = ApiKey.objects.get(pk=made["id"])
    assert row.key_hash == hashlib.sha256(made["key"].encode()).hexdigest()
    assert made["key"] not in str(list(ApiKey.objects.values()))
    # then the list shows it without the key, never used yet
    listed = shop_a.client().get("/api/v1/api-keys/").json()
    assert listed["count"] == 1
    assert listed["results"][0] == {
        "id": made["id"],
        "name": "ERP sync",
        "prefix": made["prefix"],
        "created_at": made["created_at"],
        "last_used_at": None,
    }


def test_upserts_with_a_key_keep_one_row_with_the_new_values(shop_a):
    # issue 12, must show 1: a repeat gives one row with the new values
    api = key_client(make_key(shop_a)["key"])
    assert api.put("/api/v1/buyers/b-1/", {"name": "张三"}, format="json").status_code == 201
    again = api.put("/api/v1/buyers/b-1/", {"name": "张三丰", "segments": ["vip"]}, format="json")
    assert again.status_code == 200
    assert Buyer.objects.get(shop=shop_a.shop, external_id="b-1").name == "张三丰"
    assert api.put("/api/v1/products/sku-1/", {"name": "鞋"}, format="json").status_code == 201
    assert api.put("/api/v1/products/sku-1/", {"name": "跑鞋"}, format="json").status_code == 200
    assert Product.objects.get(shop=shop_a.shop, external_id="sku-1").name == "跑鞋"
    assert api.put("/api/v1/orders/o-1/", ORDER, format="json").status_code == 201
    changed = {**ORDER, "status": "shipped"}
    assert api.put("/api/v1/orders/o-1/", changed, format="json").status_code == 200
    assert Order.objects.get(shop=shop_a.shop, external_id="o-1").status == "shipped"
    assert api.put("/api/v1/after-sales/r-1/", AFTER_SALE, format="json").status_code == 201
    update = {**AFTER_SALE, "status": "已退款"}
    assert api.put("/api/v1/after-sales/r-1/", update, format="json").status_code == 200
    assert AfterSale.objects.get(shop=shop_a.shop, external_id="r-1").status == "已退款"
    visit = api.post("/api/v1/buyers/b-1/visits/", {"page": "/p/1"}, format="json")
    assert visit.status_code == 201
    assert (Buyer.objects.filter(shop=shop_a.shop).count(), Order.objects.count()) == (1, 1)
    assert Visit.objects.filter(buyer__external_id="b-1", page="/p/1").count() == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/buyers/b-9/", {"name": "n" * 101}, "name"),
        ("/api/v1/products/p-9/", {"category": "c"}, "name"),
        ("/api/v1/orders/o-9/", {**ORDER, "status": "lost"}, "status"),
        ("/api/v1/after-sales/r-9/", {**AFTER_SALE, "amount": "-1"}, "amount"),
    ],
)
def test_invalid_fields_with_a_key_are_400_and_nothing_is_stored(shop_a, path, body, field):
    api = key_client(make_key(shop_a)["key"])
    before = (Buyer.objects.count(), Product.objects.count(), Order.objects.count())
    response = api.put(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert (Buyer.objects.count(), Product.objects.count(), Order.objects.count()) == before
    assert AfterSale.objects.count() == 0


def test_a_revoked_key_answers_401_at_once(shop_a):
    made = make_key(shop_a)
    api = key_client(made["key"])
    assert api.put("/api/v1/buyers/b-1/", {"name": "a"}, format="json").status_code == 201
    # when the main account revokes it
    assert shop_a.client().delete(f"/api/v1/api-keys/{made['id']}/").status_code == 204
    # then the very next request is refused, and nothing changed
    refused = api.put("/api/v1/buyers/b-1/", {"name": "b"}, format="json")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Bearer"
    assert Buyer.objects.get(shop=shop_a.shop, external_id="b-1").name == "a"
    assert shop_a.client().get("/api/v1/api-keys/").json()["count"] == 0


@pytest.mark.parametrize(
    "header",
    [
        "Bearer hk_wrong",
        "Bearer " + "hk_" + "A" * 43,  # well-formed, unknown
        "Bearer",
        "Bearer a b",
        "Bearer hk_ä" + "A" * 42,
    ],
)
def test_a_malformed_or_unknown_key_answers_401(shop_a, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    response = client.put("/api/v1/buyers/b-1/", {"name": "x"}, format="json")
    assert response.status_code == 401
    assert not Buyer.objects.exists()


def test_another_shops_objects_are_out_of_a_keys_reach(shop_a, shop_b):
    # SPEC A1: a key acts for its own shop only
    shop_b.client().put("/api/v1/buyers/b-1/", {"name": "B's buyer"}, format="json")
    shop_b.client().put("/api/v1/orders/o-1/", ORDER, format="json")
    api = key_client(make_key(shop_a)["key"])
    # a visit of shop B's buyer: unknown here
    assert api.post("/api/v1/buyers/b-1/visits/", {}, format="json").status_code == 404
    # an upsert with shop B's external id makes shop A's own row, B's stays as it was
    assert api.put("/api/v1/buyers/b-1/", {"name": "A's buyer"}, format="json").status_code == 201
    assert Buyer.objects.get(shop=shop_b.shop, external_id="b-1").name == "B's buyer"
    # an after-sale naming shop B's order: unknown order, nothing stored
    assert api.put("/api/v1/after-sales/r-1/", AFTER_SALE, format="json").status_code == 400
    assert not AfterSale.objects.exists()
    # shop B's webhooks, keys and audit are not listed, its webhook is 404
    hook = Webhook.objects.create(
        shop=shop_b.shop, url="https://93.184.215.14/b", events=[], secret="s", created_at=t0()
    )
    assert api.get("/api/v1/webhooks/").json()["count"] == 0
    assert api.get(f"/api/v1/webhooks/{hook.pk}/").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{hook.pk}/").status_code == 404
    assert Webhook.objects.filter(pk=hook.pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/accounts/",
        "/api/v1/conversations/",
        "/api/v1/settings/",
        "/api/v1/groups/",
        "/api/v1/api-keys/",
        "/api/v1/audit/",
        "/api/v1/me/",
        "/api/v1/queue/",
    ],
)
def test_a_key_opens_no_staff_endpoint(shop_a, path):
    # SPEC H2: shop data and webhooks only; a key is not an account
    api = key_client(make_key(shop_a)["key"])
    assert api.get(path).status_code == 401


def test_a_key_cannot_make_or_revoke_keys(shop_a):
    made = make_key(shop_a)
    api = key_client(made["key"])
    assert api.post("/api/v1/api-keys/", {"name": "more"}, format="json").status_code == 401
    assert api.delete(f"/api/v1/api-keys/{made['id']}/").status_code == 401
    assert ApiKey.objects.count() == 1


def test_keys_are_managed_by_the_main_account_or_manage_settings(shop_a):
    agent = shop_a.client(shop_a.sub("agent", {Perm.CHAT, Perm.MANAGE_ACCOUNTS}))
    assert agent.post("/api/v1/api-keys/", {"name": "x"}, format="json").status_code == 403
    assert agent.get("/api/v1/api-keys/").status_code == 403
    made = make_key(shop_a)
    assert agent.delete(f"/api/v1/api-keys/{made['id']}/").status_code == 403
    manager = shop_a.client(shop_a.sub("manager", {Perm.MANAGE_SETTINGS}))
    assert manager.post("/api/v1/api-keys/", {"name": "CRM"}, format="json").status_code == 201
    assert manager.delete(f"/api/v1/api-keys/{made['id']}/").status_code == 204
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["CRM"]
    assert (
        shop_a.client().post("/api/v1/api-keys/", {"name": " "}, format="json").status_code == 400
    )


def test_last_used_moves_at_most_once_a_minute(shop_a):
    made = make_key(shop_a)
    api = key_client(made["key"])
    start = t0()
    with time_machine.travel(start, tick=False) as clock:
        api.put("/api/v1/buyers/b-1/", {"name": "a"}, format="json")
        assert ApiKey.objects.get().last_used_at == start
        clock.shift(timedelta(seconds=59))
        api.put("/api/v1/buyers/b-1/", {"name": "b"}, format="json")
        assert ApiKey.objects.get().last_used_at == start  # not written again within the minute
        clock.shift(timedelta(seconds=2))
        api.put("/api/v1/buyers/b-1/", {"name": "c"}, format="json")
        assert ApiKey.objects.get().last_used_at == start + timedelta(seconds=61)
    assert shop_a.client().get("/api/v1/api-keys/").json()["results"][0]["last_used_at"]


def test_a_key_manages_its_shops_webhooks(shop_a):
    # API.md: a key acts for its shop on the webhooks endpoints
    api = key_client(make_key(shop_a)["key"])
    made = api.post(
        "/api/v1/webhooks/",
        {"url": "https://93.184.215.14/hooks", "events": ["message.created"]},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert api.get("/api/v1/webhooks/").json()["count"] == 1
    assert api.delete(f"/api/v1/webhooks/{made.json()['id']}/").status_code == 204
