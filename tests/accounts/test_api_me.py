"""The caller's own account: profile, own maximum, status (SPEC B1, C1; API.md, Shops and staff)."""

from __future__ import annotations

import pytest

from apps.routing.models import AgentState, StatusChange
from apps.shops.models import ShopSettings
from tests.support.isolation import snapshot

ME = "/api/v1/me/"
STATUS = "/api/v1/me/status/"


def test_agent_sees_its_own_account(shop_a):
    # API.md: GET /me/ is the caller's account with the account fields
    agent = shop_a.sub("agent1")
    body = shop_a.client(agent).get(ME).json()
    assert body["id"] == agent.pk
    assert body["username"] == "shop-a:agent1"
    assert body["kind"] == "sub"
    assert body["permissions"] == ["chat"]
    assert body["status"] == "offline"
    assert body["open_conversations"] == 0
    assert set(body) == {
        "id",
        "username",
        "name",
        "display_name",
        "kind",
        "is_active",
        "permissions",
        "routing_enabled",
        "group",
        "weight",
        "max_concurrent",
        "status",
        "open_conversations",
    }


def test_agent_renames_itself(shop_a):
    # API.md: PATCH /me/ display_name
    agent = shop_a.sub("agent1")
    response = shop_a.client(agent).patch(ME, {"display_name": "  Xiao Wang "}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "Xiao Wang"
    agent.refresh_from_db()
    assert agent.display_name == "Xiao Wang"


def test_agent_sets_its_own_max_concurrent_when_the_shop_allows_it(shop_a):
    # SPEC C1: an agent may change its own maximum (default allowed, within 1-50)
    agent = shop_a.sub("agent1")
    response = shop_a.client(agent).patch(ME, {"max_concurrent": 8}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["max_concurrent"] == 8
    assert AgentState.objects.get(account=agent).max_concurrent == 8


def test_agent_cannot_set_its_own_max_when_the_shop_forbids_it(shop_a):
    # SPEC C1; API.md: 403 when the shop does not let agents set their own
    agent = shop_a.sub("agent1")
    ShopSettings.objects.filter(shop=shop_a.shop).update(agents_set_own_max=False)
    client = shop_a.client(agent)
    before = snapshot(agent)
    response = client.patch(ME, {"max_concurrent": 8, "display_name": "sneaky"}, format="json")
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert snapshot(agent) == before


@pytest.mark.parametrize("value", [0, 51, "many"])
def test_own_max_outside_1_to_50_is_refused(shop_a, value: object):
    # SPEC C1: within 1-50
    agent = shop_a.sub("agent1")
    response = shop_a.client(agent).patch(ME, {"max_concurrent": value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["max_concurrent"]
    assert AgentState.objects.get(account=agent).max_concurrent is None


@pytest.mark.parametrize("status", ["online", "paused", "offline"])
def test_agent_switches_its_status(shop_a, status: str):
    # SPEC E1; API.md: POST /me/status/ online / paused / offline
    agent = shop_a.sub("agent1")
    client = shop_a.client(agent)
    client.post(STATUS, {"status": "online"}, format="json")
    response = client.post(STATUS, {"status": status}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == status
    assert AgentState.objects.get(account=agent).status == status


def test_status_call_is_a_presence_heartbeat(shop_a):
    # API.md: the status call is also a presence heartbeat; a repeat records no new change
    agent = shop_a.sub("agent1")
    client = shop_a.client(agent)
    client.post(STATUS, {"status": "online"}, format="json")
    first = AgentState.objects.get(account=agent).last_seen_at
    client.post(STATUS, {"status": "online"}, format="json")
    state = AgentState.objects.get(account=agent)
    assert first is not None and state.last_seen_at is not None and state.last_seen_at >= first
    assert StatusChange.objects.filter(account=agent).count() == 1


def test_main_account_has_a_status_too(shop_a):
    # SPEC B1: the main account is an agent like any other
    response = shop_a.client().post(STATUS, {"status": "paused"}, format="json")
    assert response.status_code == 200
    assert response.json()["kind"] == "main" and response.json()["status"] == "paused"


@pytest.mark.parametrize("body", [{"status": "busy"}, {"status": ""}, {}])
def test_unknown_status_is_refused(shop_a, body: dict[str, str]):
    # API.md General: 400 naming the field; the status stays as it was
    agent = shop_a.sub("agent1")
    response = shop_a.client(agent).post(STATUS, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["status"]
    assert AgentState.objects.get(account=agent).status == "offline"
    assert not StatusChange.objects.filter(account=agent).exists()


def test_malformed_json_is_a_400_not_a_500(shop_a):
    # API.md General: never 500 for input
    response = shop_a.client().generic("POST", STATUS, "{not json", content_type="application/json")
    assert response.status_code in (400,), response.content
    assert set(response.json()) == {"detail"}


def test_agent_cannot_raise_itself_through_its_own_profile(shop_a):
    # SPEC A4: permissions, activity and kind are not the agent's to change
    agent = shop_a.sub("agent1")
    client = shop_a.client(agent)
    before = snapshot(agent)
    response = client.patch(
        ME,
        {"permissions": ["manage_accounts"], "is_active": False, "kind": "main", "weight": 99},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["permissions"] == ["chat"]
    assert snapshot(agent) == before
