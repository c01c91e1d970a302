"""Bad input as an attacker sends it (issue 12, hardening): deep, long or oversized JSON gets a
clear JSON error and changes nothing, on every JSON endpoint of the schema; a non-ASCII widget
signature is a 400; rotating ``X-Forwarded-For`` gets no fresh login budget; tokens in query
strings never reach the logs. The sockets' side: tests/realtime/test_bad_input.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry
from apps.conversations.models import Message
from apps.core.clientip import client_ip
from apps.core.logs import redact
from apps.routing.models import Group
from apps.shopdata.models import Buyer
from conftest import ShopKit
from tests.support.api_world import build_world, openapi_schema, security_of

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000  # 2 KB
LONG = json.dumps({"name": "x", "items": list(range(100_000))})
HUGE = json.dumps({"name": "x" * (10 * 1024 * 1024)})  # 10 MB


def _client(kit: ShopKit | None = None) -> APIClient:
    client = APIClient(raise_request_exception=False)
    if kit is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {kit.token}")
    return client


@pytest.mark.parametrize(
    "path, staff",
    [("/api/v1/auth/token/", False), ("/api/v1/widget/session/", False), ("/api/v1/groups/", True)],
)
def test_json_nested_1000_deep_is_a_400_in_json(shop_a: ShopKit, path: str, staff: bool) -> None:
    # given a 2 KB body nested 1,000 deep (it answered 500, an HTML page)
    before = (Group.objects.count(), Buyer.objects.count())
    response = _client(shop_a if staff else None).generic(
        "POST", path, DEEP, content_type="application/json"
    )
    # then a 400 in JSON that says why, and nothing written
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert "nested too deeply" in response.json()["detail"]
    assert (Group.objects.count(), Buyer.objects.count()) == before


def _json_operations() -> list[tuple[str, str, set[str]]]:
    """Every operation of the schema that takes a JSON body: (method, path, security)."""
    return [
        (method.upper(), path, security_of(operation))
        for path, operations in openapi_schema()["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def test_every_json_endpoint_refuses_deep_long_and_huge_bodies_in_json(
    shop_a: ShopKit, settings: Any, tmp_path: Path
) -> None:
    # given a shop with something behind every route, each endpoint called as its security
    # scheme says, on a real object (so that the body is what it reads next)
    settings.MEDIA_ROOT = tmp_path / "media"
    world = build_world(shop_a)
    operations = _json_operations()
    assert ("POST", "/api/v1/auth/token/", set()) in operations  # the walk is not vacuous
    assert len(operations) > 30
    before = (Group.objects.count(), Buyer.objects.count(), Message.objects.count())
    audited = AuditEntry.objects.count()
    wrong = []
    for method, path, security in operations:
        client = _client()
        client.credentials(
            **{f"HTTP_{k.upper()}": v for k, v in world.credentials(path, security).items()}
        )
        url = world.fill(path)
        for body, status, says in ((DEEP, 400, "nested too deeply"), (LONG, 400, "at most 1000")):
            answer = client.generic(method, url, body, content_type="application/json")
            if (answer.status_code, answer["Content-Type"]) != (status, "application/json") or (
                says not in answer.json().get("detail", "")
            ):
                wrong.append((method, path, says, answer.status_code, answer.content[:120]))
        answer = client.generic(method, url, HUGE, content_type="application/json")
        if (answer.status_code, answer["Content-Type"]) != (413, "application/json"):
            wrong.append((method, path, "10 MB", answer.status_code, answer.content[:120]))
    # then each is a clear JSON error, and nothing was written
    assert wrong == []
    assert (Group.objects.count(), Buyer.objects.count(), Message.objects.count()) == before
    assert AuditEntry.objects.count() == audited


def test_errors_outside_the_api_views_are_json_under_api_and_pages_elsewhere(
    shop_a: ShopKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 12 (schemathesis): an id that fits no route answered Django's HTML 404 page
    answer = _client(shop_a).get("/api/v1/accounts/0.5/")
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found."}
    # a bug is still a 500, but in JSON for an API client
    from apps.backoffice.api.accounts.views import MeView

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(MeView, "get", boom)
    failed = _client(shop_a).get("/api/v1/me/")
    assert failed.status_code == 500
    assert failed["Content-Type"] == "application/json"
    assert "a bug" not in failed.content.decode()
    # the site's own pages keep their HTML pages
    page = Client().get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_an_overlong_list_is_refused(shop_a: ShopKit) -> None:
    body = {"name": "Pre-sales", "scope_segments": [f"s{i}" for i in range(100_000)]}
    response = _client(shop_a).post("/api/v1/groups/", body, format="json")
    assert response.status_code == 400
    assert "at most 1000 entries" in response.json()["detail"]
    assert not Group.objects.filter(shop=shop_a.shop).exists()


def test_a_body_over_the_limit_is_a_413_in_json(shop_a: ShopKit) -> None:
    # given 10 MB of JSON (it answered Django's HTML 400)
    body = json.dumps({"username": "x" * (10 * 1024 * 1024), "password": "y"})
    response = _client().generic(
        "POST", "/api/v1/auth/token/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "too large" in response.json()["detail"]


@pytest.mark.parametrize("signature", ["签名", "é" * 64, "zz" * 32, "ab"])
def test_a_signature_that_is_not_64_hex_digits_is_a_400(shop_a: ShopKit, signature: str) -> None:
    response = _client().post(
        "/api/v1/widget/session/",
        {"shop": shop_a.shop.slug, "buyer_id": "b1", "signature": signature, "entrance": "product"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "signature" in response.json()["errors"]
    assert not Buyer.objects.filter(shop=shop_a.shop, external_id="b1").exists()


def test_rotating_x_forwarded_for_gets_no_fresh_login_budget(shop_a: ShopKit, settings) -> None:  # type: ignore[no-untyped-def]
    # given the login limit of API.md (THROTTLE_AUTH, 30 a minute) and no trusted proxy
    statuses = []
    for i in range(40):
        response = _client().post(
            "/api/v1/auth/token/",
            {"username": "nobody", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
        statuses.append(response.status_code)
    # then the header changes nothing: the one client is throttled after its budget
    assert statuses.count(429) >= 10, statuses


def test_the_client_address_behind_trusted_proxies(settings) -> None:  # type: ignore[no-untyped-def]
    meta = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.0.0.7"}
    # no trusted proxy: the header is not believed
    settings.HELPDESK_TRUSTED_PROXIES = []
    assert client_ip(meta) == "10.0.0.5"
    # the proxies are trusted: the first address from the right that is not one of them (the
    # client's own "6.6.6.6" is further left and is not believed)
    settings.HELPDESK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(meta) == "203.0.113.9"
    # a request straight from an untrusted address: its header is ignored
    assert client_ip({**meta, "REMOTE_ADDR": "192.0.2.1"}) == "192.0.2.1"
    # garbage in the header stops the walk at the proxy
    assert client_ip({**meta, "HTTP_X_FORWARDED_FOR": "not-an-ip, 10.0.0.7"}) == "10.0.0.5"


def test_tokens_in_query_strings_never_reach_the_logs(caplog) -> None:  # type: ignore[no-untyped-def]
    assert redact("/ws/agent/?token=abc123&after=5") == "/ws/agent/?token=[redacted]&after=5"
    assert redact("/ws/widget/?after=1&ticket=t-9") == "/ws/widget/?after=1&ticket=[redacted]"
    # the access log line as uvicorn writes it (its arguments carry the path)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/ws/agent/?token=s3cret", "1.1", 101
        )
    assert "s3cret" not in caplog.text
    assert "token=[redacted]" in caplog.text
