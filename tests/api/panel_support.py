"""Helpers of the buyer panel, order notes, after-sales, cards and internal notes tests (SPEC
E3-E5, I1, I3): a shop's data pushed through the API, and a buyer served by an online agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Conversation
from apps.routing.models import AgentStatus
from conftest import ShopKit
from tests.support.widget import widget_client

ORDER_AT = "2026-11-20T10:00:00+08:00"


def push_buyer(kit: ShopKit, external_id: str, **fields: Any) -> None:
    body = {"name": f"buyer {external_id}", "segments": ["member:gold"], **fields}
    response = kit.client().put(f"/api/v1/buyers/{external_id}/", body, format="json")
    assert response.status_code in (200, 201), response.content


def push_product(kit: ShopKit, external_id: str, **fields: Any) -> None:
    body = {"name": f"product {external_id}", "category": "shoes", **fields}
    response = kit.client().put(f"/api/v1/products/{external_id}/", body, format="json")
    assert response.status_code in (200, 201), response.content


def push_order(kit: ShopKit, external_id: str, buyer: str, **fields: Any) -> dict[str, Any]:
    body = {
        "buyer": buyer,
        "status": "paid",
        "amount": "199.00",
        "shipping_fee": "10.00",
        "items": [{"product": "sku-1", "name": "运动鞋", "quantity": 1, "price": "189.00"}],
        "paid_at": ORDER_AT,
        "created_at": ORDER_AT,
        **fields,
    }
    response = kit.client().put(f"/api/v1/orders/{external_id}/", body, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def after_sale_body(order: str, buyer: str, **fields: Any) -> dict[str, Any]:
    return {
        "order": order,
        "buyer": buyer,
        "type": "return_refund",
        "status": "等待买家退货",
        "amount": "189.00",
        "shipping_included": False,
        "refund_method": "original payment",
        "applied_at": "2026-11-21T09:00:00+08:00",
        "goods_received": False,
        "reason": "size too small",
        "description": "the shoes are one size too small",
        "merchant_note": "approved, send them back",
        "items": [{"product": "sku-1", "name": "运动鞋", "quantity": 1, "price": "189.00"}],
        "return_address": "杭州市西湖区 1 号",
        "return_tracking": "",
        **fields,
    }


def push_after_sale(kit: ShopKit, external_id: str, order: str, buyer: str, **fields: Any) -> Any:
    response = kit.client().put(
        f"/api/v1/after-sales/{external_id}/",
        after_sale_body(order, buyer, **fields),
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


@dataclass
class Served:
    """A buyer in an active conversation with an online agent."""

    kit: ShopKit
    agent: Account
    agent_client: APIClient
    buyer_client: APIClient
    conversation: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.conversation["id"])

    def url(self, tail: str = "") -> str:
        return f"/api/v1/conversations/{self.id}/{tail}"

    def row(self) -> Conversation:
        return Conversation.objects.get(pk=self.id)


def served(
    kit: ShopKit,
    buyer: str = "b-1",
    *,
    agent_name: str = "agent",
    perms: set[Perm] | None = None,
    **session: Any,
) -> Served:
    """``buyer`` opens the widget (``session``: entrance, product, order) and asks for a human;
    the only online agent (``perms``, chat at least) takes the conversation."""
    agent = kit.sub(agent_name, {Perm.CHAT, *(perms or set())})
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    client = widget_client(kit.shop, buyer, **session)
    response = client.post("/api/v1/widget/conversation/", {"human": True}, format="json")
    assert response.status_code == 200, response.content
    conversation = response.json()
    assert conversation["state"] == "active" and conversation["agent"] == agent.pk, conversation
    return Served(kit, agent, kit.client(agent), client, conversation)
