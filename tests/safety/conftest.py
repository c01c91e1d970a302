"""Helpers for SPEC I6's tests: a shop with an agent serving a buyer through the widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.conversations.lifecycle import agent_set_status
from apps.routing.models import AgentStatus
from conftest import ShopKit
from tests.support.widget import widget_client


@dataclass
class Chat:
    """A buyer (``buyer``: its widget client) served by ``agent`` in conversation ``id``."""

    kit: ShopKit
    agent: Account
    agent_client: APIClient
    buyer: APIClient
    id: int

    def url(self, tail: str = "") -> str:
        return f"/api/v1/conversations/{self.id}/{tail}"

    def buyer_writes(self, body: str, **fields: Any) -> Any:
        return self.buyer.post(
            "/api/v1/widget/conversation/messages/", {"body": body, **fields}, format="json"
        )

    def agent_writes(self, body: str) -> Any:
        return self.agent_client.post(self.url("messages/"), {"body": body}, format="json")

    def staff_messages(self, client: APIClient | None = None) -> list[dict[str, Any]]:
        response = (client or self.agent_client).get(self.url("messages/"))
        assert response.status_code == 200, response.content
        return list(response.json()["results"])


def serve(kit: ShopKit, buyer: str = "b-1", perms: set[Perm] | None = None) -> Chat:
    """``buyer`` opens the widget and asks for a human; a new agent (``chat`` and ``perms``),
    the only one online, takes it."""
    agent = kit.sub(f"agent-{buyer}", {Perm.CHAT, *(perms or set())})
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    client = widget_client(kit.shop, buyer)
    response = client.post("/api/v1/widget/conversation/", {"human": True}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["agent"] == agent.pk, data
    return Chat(kit, agent, kit.client(agent), client, data["id"])


@pytest.fixture(autouse=True)
def _fast_passwords(fast_password_hasher: None) -> None:
    """Accounts here are made and checked in this process only (see the root conftest)."""
