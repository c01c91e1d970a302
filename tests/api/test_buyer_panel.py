"""The agent's buyer panel (SPEC E3-E5; API.md, ``GET /conversations/{id}/buyer/``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.shopdata.models import Buyer, Order, Visit
from apps.shopdata.services import visit_record
from tests.api.panel_support import push_after_sale, push_buyer, push_order, push_product, served

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


@pytest.fixture
def shop_data(shop_a):
    push_buyer(shop_a, "b-1", name="张三", channel="app")
    push_buyer(shop_a, "b-2")
    push_product(shop_a, "sku-1", name="运动鞋")
    push_order(shop_a, "o-unpaid", "b-1", status="unpaid", created_at=days_ago(1))
    push_order(shop_a, "o-paid", "b-1", status="paid", created_at=days_ago(2))
    push_order(shop_a, "o-shipped", "b-1", status="shipped", created_at=days_ago(3))
    push_order(shop_a, "o-after", "b-1", status="after_sale", created_at=days_ago(10))
    push_order(shop_a, "o-old", "b-1", status="completed", created_at=days_ago(45))
    push_order(shop_a, "o-other", "b-2", status="paid", created_at=days_ago(1))
    push_after_sale(shop_a, "as-1", "o-after", "b-1")
    push_after_sale(shop_a, "as-other", "o-other", "b-2")
    return shop_a


def test_the_panel_shows_the_buyer_its_entrance_orders_visits_and_after_sales(shop_data):
    # SPEC E3-E5: name, channel and entrance with its order, paid orders, visits in 72 hours,
    # recent orders (window default 1 month) with their current note, after-sales
    client = shop_data.client()
    client.post("/api/v1/orders/o-paid/notes/", {"text": "old note"}, format="json")
    client.post("/api/v1/orders/o-paid/notes/", {"text": "催发货", "flag": "red"}, format="json")
    buyer = Buyer.objects.get(shop=shop_data.shop, external_id="b-1")
    visit_record(buyer=buyer, source="api", at=timezone.now() - timedelta(hours=80))  # too old
    visit_record(buyer=buyer, source="api", at=timezone.now() - timedelta(hours=5))
    # a visit too; the agent may see the return address unmasked (SPEC I6, view_buyer_info)
    desk = served(shop_data, "b-1", entrance="order", order="o-paid", perms={Perm.VIEW_BUYER_INFO})
    response = desk.agent_client.get(desk.url("buyer/"))
    assert response.status_code == 200, response.content
    panel = response.json()
    assert panel["buyer"] == {
        "external_id": "b-1",
        "name": "张三",
        "channel": "app",
        "segments": ["member:gold"],
    }
    assert panel["entrance"] == "order" and panel["product"] is None
    assert panel["order"]["external_id"] == "o-paid"
    assert panel["order"]["note"]["text"] == "催发货" and panel["order"]["note"]["flag"] == "red"
    # paid, shipped, after_sale and completed count; unpaid and the other buyer's do not
    assert panel["paid_orders"] == 4
    assert panel["visits_72h"] == 2  # the pushed one of 5 hours ago and the widget session
    assert panel["recent_orders_days"] == 30
    recent = [o["external_id"] for o in panel["recent_orders"]]
    assert recent == ["o-unpaid", "o-paid", "o-shipped", "o-after"]  # newest first, o-old out
    by_id = {o["external_id"]: o for o in panel["recent_orders"]}
    assert by_id["o-paid"]["note"]["text"] == "催发货"
    assert by_id["o-unpaid"]["note"] is None
    assert by_id["o-after"]["after_sale"] == {
        "external_id": "as-1",
        "type": "return_refund",
        "status": "等待买家退货",
    }
    assert [a["external_id"] for a in panel["after_sales"]] == ["as-1"]
    assert panel["after_sales"][0]["return_address"] == "杭州市西湖区 1 号"


def test_the_recent_orders_follow_the_shops_window(shop_data):
    # SPEC E3 [003]: the window is the shop's setting
    settings = shop_data.shop.settings
    settings.recent_orders_days = 60
    settings.save(update_fields=["recent_orders_days"])
    desk = served(shop_data, "b-1", entrance="product", product="sku-1")
    panel = desk.agent_client.get(desk.url("buyer/")).json()
    assert "o-old" in [o["external_id"] for o in panel["recent_orders"]]
    assert panel["product"] == {"external_id": "sku-1", "name": "运动鞋", "category": "shoes"}
    assert panel["order"] is None


def test_a_buyer_without_data_has_an_empty_panel(shop_a):
    desk = served(shop_a, "newcomer", entrance="member")
    panel = desk.agent_client.get(desk.url("buyer/")).json()
    assert panel["paid_orders"] == 0 and panel["recent_orders"] == []
    assert panel["after_sales"] == [] and panel["visits_72h"] == 1


def test_staff_who_may_not_see_the_conversation_get_404(shop_data):
    # SPEC E6: readable by the conversation's agent and staff who may see it
    desk = served(shop_data, "b-1")
    outsider = shop_data.sub("outsider", {Perm.CHAT})
    assert shop_data.client(outsider).get(desk.url("buyer/")).status_code == 404
    historian = shop_data.sub("historian", {Perm.VIEW_ALL_HISTORY})
    assert shop_data.client(historian).get(desk.url("buyer/")).status_code == 200


def test_another_shops_conversation_panel_answers_404(shop_data, shop_b):
    # SPEC A1
    push_buyer(shop_b, "b-9", name="B's private buyer")
    desk_b = served(shop_b, "b-9", agent_name="b-agent")
    response = shop_data.client().get(desk_b.url("buyer/"))
    assert response.status_code == 404
    assert "private" not in response.content.decode()


def test_the_panel_reads_a_bounded_number_of_queries(shop_data, django_assert_max_num_queries):
    # however many orders, notes and after-sales the buyer has
    for n in range(15):
        push_order(shop_data, f"o-more-{n}", "b-1", created_at=days_ago(4))
        shop_data.client().post(f"/api/v1/orders/o-more-{n}/notes/", {"text": "n"}, format="json")
    desk = served(shop_data, "b-1", entrance="order", order="o-paid")
    with django_assert_max_num_queries(14):
        response = desk.agent_client.get(desk.url("buyer/"))
    assert len(response.json()["recent_orders"]) == 19
    assert Order.objects.filter(shop=shop_data.shop).count() == 21
    assert Visit.objects.filter(shop=shop_data.shop).count() == 1
