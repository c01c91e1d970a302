"""Webhook subscriptions through the API (SPEC H4; API.md, "webhooks"; issue 12, must show 2):
made with the secret shown once, listed, changed, deleted; URLs that are not http(s) or whose
host is on a private, loopback or link-local network refused with 400 (unless the server runs
with HELPDESK_WEBHOOKS_ALLOW_PRIVATE=1); the delivery log."""

from __future__ import annotations

import socket

import pytest

from apps.accounts.permissions import Perm
from apps.integrations.models import Webhook

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

PUBLIC = "https://93.184.215.14/hooks/helpdesk?token=abc"  # a literal public address: no DNS
ALL = [
    "conversation.assigned",
    "conversation.queued",
    "conversation.transferred",
    "conversation.closed",
    "message.created",
    "conversation.rated",
]


def test_a_webhook_is_made_with_its_secret_shown_once(shop_a):
    made = shop_a.client().post(
        "/api/v1/webhooks/",
        {"url": PUBLIC, "events": ["message.created", "conversation.closed", "message.created"]},
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert {"id", "url", "events", "secret", "is_active"} <= set(body)
    assert body["url"] == PUBLIC and body["is_active"] is True
    assert body["events"] == ["conversation.closed", "message.created"]  # once, in API.md's order
    assert len(body["secret"]) == 64
    listed = shop_a.client().get("/api/v1/webhooks/").json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    one = shop_a.client().get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in one and one["disabled_reason"] == ""


def test_every_documented_event_type_can_be_chosen(shop_a):
    made = shop_a.client().post("/api/v1/webhooks/", {"url": PUBLIC, "events": ALL}, format="json")
    assert made.status_code == 201
    assert made.json()["events"] == ALL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC, "events": []}, "events"),
        ({"url": PUBLIC, "events": ["conversation.updated"]}, "events"),
        ({"url": PUBLIC, "events": "message.created"}, "events"),
        ({"url": PUBLIC}, "events"),
        ({"url": "ftp://93.184.215.14/x", "events": ["message.created"]}, "url"),
        ({"url": "file:///etc/passwd", "events": ["message.created"]}, "url"),
        ({"url": "https://user:pw@93.184.215.14/x", "events": ["message.created"]}, "url"),
        ({"url": "not a url", "events": ["message.created"]}, "url"),
        ({"url": "https://" + "a" * 500 + ".com/", "events": ["message.created"]}, "url"),
    ],
)
def test_bad_webhooks_are_refused_and_nothing_is_stored(shop_a, body, field):
    response = shop_a.client().post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",  # loopback
        "http://127.9.9.9/hook",
        "http://[::1]/hook",
        "http://localhost/hook",  # a name that resolves to loopback
        "http://10.1.2.3/hook",  # private
        "http://172.16.0.5/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",  # shared (carrier-grade NAT)
        "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
        "http://[fe80::1]/hook",
        "http://[fc00::1]/hook",  # unique local
        "http://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
        "http://0.0.0.0/hook",  # unspecified
        "http://224.0.0.1/hook",  # multicast
        "http://240.0.0.1/hook",  # reserved
        "http://2130706433/hook",  # 127.0.0.1 written as a number
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(shop_a, url):
    # API.md: 400 unless the server runs with HELPDESK_WEBHOOKS_ALLOW_PRIVATE=1
    response = shop_a.client().post(
        "/api/v1/webhooks/", {"url": url, "events": ["message.created"]}, format="json"
    )
    assert response.status_code == 400, (url, response.content)
    assert "url" in response.json()["errors"]
    assert not Webhook.objects.exists()


def test_a_host_that_does_not_resolve_is_refused(shop_a, monkeypatch):
    def nowhere(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    response = shop_a.client().post(
        "/api/v1/webhooks/",
        {"url": "https://erp.shop.example/hook", "events": ["message.created"]},
        format="json",
    )
    assert response.status_code == 400 and "url" in response.json()["errors"]


def test_a_name_resolving_to_public_and_private_addresses_is_refused(shop_a, monkeypatch):
    # one private address among the answers is enough: the connection could go there
    def answers(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    response = shop_a.client().post(
        "/api/v1/webhooks/",
        {"url": "https://erp.shop.example/hook", "events": ["message.created"]},
        format="json",
    )
    assert response.status_code == 400


def test_with_the_setting_a_loopback_receiver_is_accepted(shop_a, allow_private):
    response = shop_a.client().post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/hook", "events": ["message.created"]},
        format="json",
    )
    assert response.status_code == 201
    # the scheme rule stays
    response = shop_a.client().post(
        "/api/v1/webhooks/", {"url": "gopher://127.0.0.1/", "events": ["message.created"]}
    )
    assert response.status_code == 400


def test_a_webhook_is_changed_switched_off_and_on_and_deleted(shop_a):
    client = shop_a.client()
    hook = client.post(
        "/api/v1/webhooks/", {"url": PUBLIC, "events": ["message.created"]}, format="json"
    ).json()
    url = f"/api/v1/webhooks/{hook['id']}/"
    changed = client.patch(
        url, {"events": ["conversation.closed"], "is_active": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["events"] == ["conversation.closed"]
    assert changed.json()["is_active"] is False
    assert client.patch(url, {"is_active": True}, format="json").json()["is_active"] is True
    refused = client.patch(url, {"url": "http://10.0.0.1/"}, format="json")
    assert refused.status_code == 400
    assert Webhook.objects.get(pk=hook["id"]).url == PUBLIC
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert not Webhook.objects.exists()


def test_webhooks_are_managed_by_the_main_account_or_manage_settings(shop_a):
    agent = shop_a.client(shop_a.sub("agent", {Perm.CHAT, Perm.VIEW_MONITOR}))
    body = {"url": PUBLIC, "events": ["message.created"]}
    assert agent.post("/api/v1/webhooks/", body, format="json").status_code == 403
    assert agent.get("/api/v1/webhooks/").status_code == 403
    manager = shop_a.client(shop_a.sub("manager", {Perm.MANAGE_SETTINGS}))
    made = manager.post("/api/v1/webhooks/", body, format="json")
    assert made.status_code == 201
    assert agent.get(f"/api/v1/webhooks/{made.json()['id']}/deliveries/").status_code == 403
    assert agent.delete(f"/api/v1/webhooks/{made.json()['id']}/").status_code == 403
    assert Webhook.objects.count() == 1
    assert shop_a.client().get("/api/v1/webhooks/").json()["count"] == 1


def test_a_shop_has_at_most_twenty_webhooks(shop_a):
    client = shop_a.client()
    for n in range(20):
        body = {"url": f"{PUBLIC}&n={n}", "events": ["message.created"]}
        assert client.post("/api/v1/webhooks/", body, format="json").status_code == 201
    refused = client.post("/api/v1/webhooks/", {"url": PUBLIC, "events": ["message.created"]})
    assert refused.status_code == 400
    assert Webhook.objects.count() == 20
