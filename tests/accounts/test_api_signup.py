"""Signing up a shop and logging in (SPEC A1, A2; API.md, Shops and staff)."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.routing.models import AgentState
from apps.shops.models import Shop, ShopSettings
from conftest import PASSWORD

SIGNUP = "/api/v1/shops/"
LOGIN = "/api/v1/auth/token/"
STRONG = "a-Valid-passw0rd!"


def _counts() -> tuple[int, int, int, int]:
    return (
        Shop.objects.count(),
        Account.objects.count(),
        ShopSettings.objects.count(),
        AgentState.objects.count(),
    )


def test_signup_creates_the_shop_and_its_main_account(anon: APIClient, db):
    # SPEC A1, B1
    # when someone signs up a shop
    response = anon.post(
        SIGNUP, {"slug": "tea-house", "name": "Tea House", "password": STRONG}, format="json"
    )
    # then the shop, the main account and a working token come back
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"shop", "account", "token"}
    assert body["shop"]["slug"] == "tea-house"
    assert body["shop"]["time_zone"] == "Asia/Shanghai"
    assert body["shop"]["sub_account_quota"] == settings.HELPDESK_SUB_ACCOUNT_QUOTA
    account = body["account"]
    assert account["username"] == "tea-house"
    assert account["kind"] == "main"
    assert account["routing_enabled"] is True
    assert account["status"] == "offline"
    assert account["permissions"] == [
        "chat",
        "manage_routing",
        "manage_accounts",
        "manage_settings",
        "view_all_history",
        "view_monitor",
        "handle_orders",
        "handle_after_sales",
        "view_buyer_info",  # SPEC I6
    ]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.get("/api/v1/me/").json()["id"] == account["id"]


def test_signup_keeps_the_chosen_time_zone(anon: APIClient, db):
    # SPEC A1: the time zone defaults to Asia/Shanghai but may be chosen
    response = anon.post(
        SIGNUP,
        {"slug": "berlin-shop", "name": "B", "password": STRONG, "time_zone": "Europe/Berlin"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Shop.objects.get(slug="berlin-shop").time_zone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("slug", {"slug": "Bad Slug!"}),
        ("slug", {"slug": "ab"}),
        ("slug", {"slug": "-edge"}),
        ("slug", {"slug": "admin"}),
        ("slug", {"slug": "api"}),
        ("password", {"password": "12345678"}),
        ("password", {"password": "short"}),
        ("time_zone", {"time_zone": "Mars/Olympus"}),
        ("name", {"name": "   "}),
    ],
)
def test_signup_with_bad_input_names_the_field_and_stores_nothing(
    anon: APIClient, db, field: str, body: dict[str, str]
):
    # SPEC A1; API.md General: 400 {"errors": {field: [...]}}
    # given no shop yet
    before = _counts()
    # when a signup has one bad field
    data = {"slug": "new-shop", "name": "New shop", "password": STRONG, **body}
    response = anon.post(SIGNUP, data, format="json")
    # then it is refused on that field and nothing is stored
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert all(isinstance(m, str) and m for m in errors[field])
    assert _counts() == before


def test_signup_with_a_taken_slug_is_refused(anon: APIClient, shop_a):
    # SPEC A1: the slug is the main account's login name, so it is unique
    before = _counts()
    response = anon.post(
        SIGNUP, {"slug": "Shop-A", "name": "Copycat", "password": STRONG}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["slug"]
    assert _counts() == before
    assert Shop.objects.get(slug="shop-a").name == "Shop A"


def test_signup_without_fields_lists_every_missing_one(anon: APIClient, db):
    # API.md General: field errors for each missing field
    response = anon.post(SIGNUP, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"slug", "name", "password"}


def test_main_account_logs_in_with_the_shop_slug(anon: APIClient, shop_a):
    # SPEC A2: the main account's login name is the shop slug
    response = anon.post(LOGIN, {"username": "shop-a", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["account"]["id"] == shop_a.main.pk
    assert body["account"]["kind"] == "main"
    assert body["token"] == shop_a.token


@pytest.mark.parametrize("username", ["shop-a:agent1", "shop-a：agent1", " Shop-A : agent1 "])
def test_sub_account_logs_in_as_shop_colon_name(anon: APIClient, shop_a, username: str):
    # SPEC A2: `shop:name`; a full-width colon is taken as an ASCII one
    agent = shop_a.sub("agent1")
    response = anon.post(LOGIN, {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["account"]["id"] == agent.pk
    assert response.json()["account"]["username"] == "shop-a:agent1"


def test_chinese_sub_account_logs_in_with_either_colon(anon: APIClient, shop_a):
    # SPEC A2: names may be Chinese
    agent = shop_a.sub("小王")
    for username in ("shop-a:小王", "shop-a：小王"):
        response = anon.post(LOGIN, {"username": username, "password": PASSWORD}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["account"]["id"] == agent.pk


@pytest.mark.parametrize(
    ("username", "password"),
    [("shop-a", "wrong-password"), ("shop-a:nobody", PASSWORD), ("shop-b", PASSWORD)],
)
def test_wrong_login_is_refused_without_saying_which_part(
    anon: APIClient, shop_a, username: str, password: str
):
    # SPEC A2; API.md General: a non-field error is {"detail": "..."}
    response = anon.post(LOGIN, {"username": username, "password": password}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert response.json()["detail"]


def test_disabled_sub_account_cannot_log_in(anon: APIClient, shop_a):
    # SPEC A3: a disabled sub-account is out
    agent = shop_a.sub("agent1")
    Account.objects.filter(pk=agent.pk).update(is_active=False)
    response = anon.post(LOGIN, {"username": "shop-a:agent1", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


def test_login_is_throttled_past_the_auth_rate(anon: APIClient, shop_a):
    # API.md General: 429 when throttled; the `auth` rate of the settings applies to logins
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"]
    allowed = int(rate.split("/")[0])
    # given as many failed logins from one address as the rate allows
    for _ in range(allowed):
        response = anon.post(LOGIN, {"username": "shop-a", "password": "guess"}, format="json")
        assert response.status_code == 400
    # when one more comes, even with the right password
    response = anon.post(LOGIN, {"username": "shop-a", "password": PASSWORD}, format="json")
    # then it is throttled
    assert response.status_code == 429
    assert set(response.json()) == {"detail"}


def test_signups_are_throttled_past_the_signup_rate(anon: APIClient, db):
    # API.md General: 429 when throttled; the `signup` rate of the settings applies
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["signup"]
    allowed = int(rate.split("/")[0])
    for n in range(allowed):
        body = {"slug": f"shop-{n}", "name": "S", "password": STRONG}
        assert anon.post(SIGNUP, body, format="json").status_code == 201
    before = _counts()
    body = {"slug": "one-too-many", "name": "S", "password": STRONG}
    response = anon.post(SIGNUP, body, format="json")
    assert response.status_code == 429
    assert set(response.json()) == {"detail"}
    assert _counts() == before
