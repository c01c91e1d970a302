"""The buyer widget and the staff side over REST, end to end (API.md)."""

from __future__ import annotations

import hashlib
import hmac

from rest_framework.test import APIClient

from apps.conversations.lifecycle import agent_set_status
from apps.routing.models import AgentStatus


def widget_client(kit, buyer_id: str = "b-1", entrance: str = "product") -> APIClient:
    secret = kit.shop.settings.widget_secret
    sig = hmac.new(secret.encode(), buyer_id.encode(), hashlib.sha256).hexdigest()
    client = APIClient()
    r = client.post(
        "/api/v1/widget/session/",
        {"shop": kit.shop.slug, "buyer_id": buyer_id, "signature": sig, "entrance": entrance},
        format="json",
    )
    assert r.status_code == 200, r.content
    client.credentials(HTTP_AUTHORIZATION=f"Buyer {r.json()['token']}")
    return client


def test_buyer_asks_for_human_and_chats_with_agent(shop_a):
    agent = shop_a.sub("a1")
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    buyer = widget_client(shop_a)
    r = buyer.post("/api/v1/widget/conversation/", {"human": True}, format="json")
    assert r.status_code == 200, r.content
    conv = r.json()
    assert conv["state"] == "active" and conv["agent"] == agent.pk
    r = buyer.post(
        "/api/v1/widget/conversation/messages/", {"body": "在吗", "client_id": "c1"}, format="json"
    )
    assert r.status_code == 201
    again = buyer.post(
        "/api/v1/widget/conversation/messages/", {"body": "在吗", "client_id": "c1"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    staff = shop_a.client(agent)
    r = staff.post(f"/api/v1/conversations/{conv['id']}/messages/", {"body": "您好"}, format="json")
    assert r.status_code == 201, r.content
    msgs = buyer.get("/api/v1/widget/conversation/messages/?after_seq=0").json()["results"]
    assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1))
    # the welcome goes out in the agent's name when the conversation is assigned (SPEC D1)
    assert [m["sender"] for m in msgs] == ["assistant", "agent", "buyer", "agent"]
    r = staff.post(f"/api/v1/conversations/{conv['id']}/close/")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert staff.post(f"/api/v1/conversations/{conv['id']}/close/").status_code == 409
    r = buyer.post("/api/v1/widget/conversation/rating/", {"score": 5}, format="json")
    assert r.status_code == 201
    assert (
        buyer.post("/api/v1/widget/conversation/rating/", {"score": 4}, format="json").status_code
        == 409
    )


def test_bad_signature_is_refused(shop_a, anon):
    r = anon.post(
        "/api/v1/widget/session/",
        {"shop": shop_a.shop.slug, "buyer_id": "b", "signature": "00", "entrance": "product"},
        format="json",
    )
    assert r.status_code == 400 and "signature" in r.json()["errors"]


def test_settings_patch_validates_and_groups_switch_mode(shop_a):
    client = shop_a.client()
    r = client.patch("/api/v1/settings/", {"buyer_warning_seconds": 400}, format="json")
    assert r.status_code == 400 and "buyer_warning_seconds" in r.json()["errors"]
    r = client.get("/api/v1/settings/")
    assert r.status_code == 200 and r.json()["buyer_silence_seconds"] == 300
    r = client.post(
        "/api/v1/groups/", {"name": "售前", "scope": {"order_statuses": ["unpaid"]}}, format="json"
    )
    assert r.status_code == 201, r.content
    assert r.json()["scope"]["order_statuses"] == ["unpaid"]
    assert client.get("/api/v1/queue/").status_code == 200
    r = client.put("/api/v1/buyers/x1/", {"name": "n", "segments": ["vip"]}, format="json")
    assert r.status_code == 201
    assert client.put("/api/v1/buyers/x1/", {"name": "n"}, format="json").status_code == 200
