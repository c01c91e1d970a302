"""After-sales records and visits pushed by the shop's systems (SPEC E3, E5, H2; API.md,
``PUT /after-sales/{external_id}/``, ``POST /buyers/{external_id}/visits/``)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.permissions import Perm
from apps.shopdata.models import AfterSale, Visit
from tests.api.panel_support import after_sale_body, push_buyer, push_order
from tests.support.widget import widget_client

pytestmark = pytest.mark.django_db


def rows(kit: Any) -> list[dict[str, Any]]:
    return list(AfterSale.objects.filter(shop=kit.shop).order_by("pk").values())


@pytest.fixture
def shop_data(shop_a):
    push_buyer(shop_a, "b-1")
    push_buyer(shop_a, "b-2")
    push_order(shop_a, "o-1", "b-1")
    push_order(shop_a, "o-2", "b-2")
    return shop_a


def test_pushing_an_after_sale_twice_keeps_one_row_with_the_new_values(shop_data):
    # SPEC E5, H2: idempotent upsert by external id: 201, then 200, one row
    client = shop_data.client()
    first = client.put("/api/v1/after-sales/as-1/", after_sale_body("o-1", "b-1"), format="json")
    assert first.status_code == 201, first.content
    assert first.json() == {
        "external_id": "as-1",
        "order": "o-1",
        "type": "return_refund",
        "status": "等待买家退货",
        "amount": "189.00",
        "shipping_included": False,
        "refund_method": "original payment",
        "applied_at": "2026-11-21T01:00:00+00:00",
        "goods_received": False,
        "reason": "size too small",
        "description": "the shoes are one size too small",
        "merchant_note": "approved, send them back",
        "items": [{"product": "sku-1", "name": "运动鞋", "quantity": 1, "price": "189.00"}],
        "return_address": "杭州市西湖区 1 号",
        "return_tracking": "",
        "updated_at": first.json()["updated_at"],
    }
    again = client.put(
        "/api/v1/after-sales/as-1/",
        after_sale_body(
            "o-1", "b-1", status="退款成功", goods_received=True, return_tracking="SF123"
        ),
        format="json",
    )
    assert again.status_code == 200, again.content
    row = AfterSale.objects.get(shop=shop_data.shop, external_id="as-1")
    assert (row.status, row.goods_received, row.return_tracking) == ("退款成功", True, "SF123")
    assert AfterSale.objects.filter(shop=shop_data.shop).count() == 1


def test_only_order_buyer_type_status_and_amount_are_required(shop_data):
    # API.md: the other fields default to empty
    body = {"order": "o-1", "buyer": "b-1", "type": "refund_only", "status": "申请中"}
    response = shop_data.client().put(
        "/api/v1/after-sales/as-1/", {**body, "amount": "5.5"}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["amount"], data["items"], data["goods_received"]) == ("5.50", [], None)
    missing = shop_data.client().put("/api/v1/after-sales/as-2/", {}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) == {"order", "buyer", "type", "status", "amount"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"buyer": "nobody"}, "buyer"),
        ({"order": "no-such-order"}, "order"),
        ({"order": "o-2"}, "order"),  # another buyer's order
        ({"type": "exchange"}, "type"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"status": ""}, "status"),
        ({"items": [{"name": "x"}] * 101}, "items"),
        ({"items": [{"quantity": 1}]}, "items"),
        ({"reason": "r" * 201}, "reason"),
    ],
)
def test_a_bad_after_sale_is_refused_by_field_and_nothing_is_written(shop_data, change, field):
    # SPEC N: bad input gets a clear error and changes nothing
    client = shop_data.client()
    client.put("/api/v1/after-sales/as-1/", after_sale_body("o-1", "b-1"), format="json")
    before = rows(shop_data)
    response = client.put(
        "/api/v1/after-sales/as-1/", {**after_sale_body("o-1", "b-1"), **change}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert rows(shop_data) == before


def test_after_sales_need_the_main_account_or_manage_settings(shop_data):
    # API.md, shop data: the main account or a sub-account with manage_settings
    agent = shop_data.sub("agent", {Perm.CHAT, Perm.HANDLE_AFTER_SALES})
    body = after_sale_body("o-1", "b-1")
    refused = shop_data.client(agent).put("/api/v1/after-sales/as-1/", body, format="json")
    assert refused.status_code == 403
    assert rows(shop_data) == []
    admin = shop_data.sub("admin", {Perm.MANAGE_SETTINGS})
    allowed = shop_data.client(admin).put("/api/v1/after-sales/as-1/", body, format="json")
    assert allowed.status_code == 201


def test_another_shops_after_sale_order_and_buyer_are_unknown(shop_data, shop_b):
    # SPEC A1: shop B's external ids mean nothing to shop A; B's row stays as it was
    push_buyer(shop_b, "b-9")
    push_order(shop_b, "o-9", "b-9")
    b_client = shop_b.client()
    b_client.put("/api/v1/after-sales/as-9/", after_sale_body("o-9", "b-9"), format="json")
    b_before = rows(shop_b)
    a_client = shop_data.client()
    for body in (after_sale_body("o-9", "b-9"), after_sale_body("o-9", "b-1")):
        response = a_client.put("/api/v1/after-sales/as-9/", body, format="json")
        assert response.status_code == 400
        assert "B's" not in response.content.decode()
    # the same external id in shop A is shop A's own record
    own = a_client.put("/api/v1/after-sales/as-9/", after_sale_body("o-1", "b-1"), format="json")
    assert own.status_code == 201
    assert rows(shop_b) == b_before
    assert AfterSale.objects.get(shop=shop_data.shop, external_id="as-9").order.external_id == "o-1"


# Visits (SPEC E3)


def test_the_shop_pushes_a_visit_of_its_buyer(shop_data):
    response = shop_data.client().post(
        "/api/v1/buyers/b-1/visits/",
        {"at": "2026-11-30T10:00:00+08:00", "page": "/item/sku-1"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json() == {
        "buyer": "b-1",
        "at": "2026-11-30T02:00:00+00:00",
        "page": "/item/sku-1",
        "source": "api",
    }
    assert Visit.objects.filter(shop=shop_data.shop, buyer__external_id="b-1").count() == 1


def test_a_visit_without_a_time_is_now(shop_data):
    response = shop_data.client().post("/api/v1/buyers/b-1/visits/", {}, format="json")
    assert response.status_code == 201
    assert Visit.objects.get(shop=shop_data.shop).page == ""


def test_a_visit_of_an_unknown_or_another_shops_buyer_answers_404(shop_data, shop_b):
    # SPEC A1: shop B's buyer is unknown to shop A, and gets no visit
    push_buyer(shop_b, "b-9")
    client = shop_data.client()
    assert client.post("/api/v1/buyers/b-9/visits/", {}, format="json").status_code == 404
    assert client.post("/api/v1/buyers/nobody/visits/", {}, format="json").status_code == 404
    assert Visit.objects.count() == 0


def test_a_bad_visit_is_refused_and_nothing_is_written(shop_data):
    client = shop_data.client()
    bad = client.post("/api/v1/buyers/b-1/visits/", {"at": "yesterday"}, format="json")
    assert bad.status_code == 400 and "at" in bad.json()["errors"]
    long = client.post("/api/v1/buyers/b-1/visits/", {"page": "p" * 501}, format="json")
    assert long.status_code == 400 and "page" in long.json()["errors"]
    agent = shop_data.sub("agent", {Perm.CHAT})
    refused = shop_data.client(agent).post("/api/v1/buyers/b-1/visits/", {}, format="json")
    assert refused.status_code == 403
    assert Visit.objects.count() == 0


def test_a_widget_session_start_counts_as_a_visit(shop_data):
    # API.md: a widget session start also counts as one
    widget_client(shop_data.shop, "b-1", entrance="order", order="o-1")
    visit = Visit.objects.get(shop=shop_data.shop)
    assert (visit.buyer.external_id, visit.source, visit.page) == ("b-1", "widget", "order:o-1")
