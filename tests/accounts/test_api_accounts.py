"""Sub-accounts and permissions through the API (SPEC A1-A4; API.md, Shops and staff)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.routing.models import AgentState, Group
from conftest import PASSWORD
from tests.support.isolation import snapshot

ACCOUNTS = "/api/v1/accounts/"
LOGIN = "/api/v1/auth/token/"
NEW_PASSWORD = "a-Valid-passw0rd!"


def detail(account: Account) -> str:
    return f"{ACCOUNTS}{account.pk}/"


def login(username: str, password: str) -> int:
    response = APIClient().post(LOGIN, {"username": username, "password": password}, format="json")
    return response.status_code


def subs_of(kit: Any) -> list[str]:
    return list(Account.objects.filter(shop=kit.shop, kind="sub").values_list("name", flat=True))


# Listing


def test_account_list_shows_the_main_account_first_and_only_this_shops_accounts(shop_a, shop_b):
    # SPEC A1, B1; API.md: the main account is listed, kind main, routing on, offline
    agent = shop_a.sub("agent1")
    shop_b.sub("agent1")
    response = shop_a.client(agent).get(ACCOUNTS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    main, sub = body["results"]
    assert (main["id"], main["kind"], main["username"]) == (shop_a.main.pk, "main", "shop-a")
    assert main["routing_enabled"] is True and main["status"] == "offline"
    assert (sub["id"], sub["kind"], sub["username"]) == (agent.pk, "sub", "shop-a:agent1")


def test_agent_sees_a_colleague(shop_a):
    # API.md: GET /accounts/{id}/ for any account of the shop (transfer needs colleagues)
    agent = shop_a.sub("agent1")
    colleague = shop_a.sub("agent2", display_name="Two")
    response = shop_a.client(agent).get(detail(colleague))
    assert response.status_code == 200
    assert response.json()["display_name"] == "Two"


@pytest.mark.parametrize("pk", ["999999", "abc", "0"])
def test_unknown_account_id_is_404(shop_a, pk: str):
    # API.md General: 404 unknown
    response = shop_a.client().get(f"{ACCOUNTS}{pk}/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


# Creating


def test_main_account_creates_a_sub_account_with_permissions(shop_a):
    # SPEC A2, A4, B1: permissions assigned and shown; routing on; starts offline
    response = shop_a.client().post(
        ACCOUNTS,
        {
            "name": "agent1",
            "password": NEW_PASSWORD,
            "display_name": "Agent One",
            "permissions": ["view_monitor", "chat"],
            "weight": 20,
            "max_concurrent": 3,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "shop-a:agent1"
    assert body["kind"] == "sub"
    assert body["permissions"] == ["chat", "view_monitor"]
    assert (body["routing_enabled"], body["weight"], body["max_concurrent"]) == (True, 20, 3)
    assert body["status"] == "offline" and body["is_active"] is True
    account = Account.objects.get(pk=body["id"])
    assert has_perm(account, Perm.VIEW_MONITOR) and not has_perm(account, Perm.MANAGE_ACCOUNTS)
    assert shop_a.client().get(detail(account)).json()["permissions"] == ["chat", "view_monitor"]
    assert login("shop-a:agent1", NEW_PASSWORD) == 200


def test_new_sub_account_gets_the_chat_permission_by_default(shop_a):
    # SPEC A4: a new agent can receive buyers unless told otherwise
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent1", "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["permissions"] == ["chat"]


def test_sub_account_may_have_a_chinese_name(shop_a):
    # SPEC A2: names may be Chinese; login `shop-a:小王` (or with `：`)
    response = shop_a.client().post(
        ACCOUNTS, {"name": "小王", "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "shop-a:小王"
    assert login("shop-a:小王", NEW_PASSWORD) == 200
    assert login("shop-a：小王", NEW_PASSWORD) == 200


@pytest.mark.parametrize("name", ["a:b", "a：b", "two words", "a/b", "a@b", "   "])
def test_sub_account_name_with_a_colon_or_separator_is_refused(shop_a, name: str):
    # SPEC A2: the colon separates shop and name, so a name cannot hold one
    response = shop_a.client().post(
        ACCOUNTS, {"name": name, "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert subs_of(shop_a) == []


def test_duplicate_sub_account_name_is_refused(shop_a):
    # SPEC A2: one login name per account
    shop_a.sub("agent1")
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent1", "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert subs_of(shop_a) == ["agent1"]


def test_same_name_in_another_shop_is_fine(shop_a, shop_b):
    # SPEC A1: names are per shop
    shop_b.sub("agent1")
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent1", "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 201


def test_weak_password_for_a_sub_account_is_refused(shop_a):
    # API.md General: 400 naming the field
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent1", "password": "12345678"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]
    assert subs_of(shop_a) == []


def test_quota_reached_is_a_clear_error_and_creates_nothing(shop_a):
    # SPEC A2: a shop has a sub-account quota, enforced with a clear error
    shop_a.shop.sub_account_quota = 1
    shop_a.shop.save(update_fields=["sub_account_quota"])
    shop_a.sub("agent1")
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent2", "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "The shop has used all 1 of its sub-accounts."}
    assert subs_of(shop_a) == ["agent1"]
    assert AgentState.objects.filter(shop=shop_a.shop).count() == 2


def test_group_of_another_shop_is_unknown(shop_a, shop_b):
    # SPEC A1: an id of another shop in a body reads as unknown, and nothing is created
    foreign = Group.objects.create(shop=shop_b.shop, name="B team")
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent1", "password": NEW_PASSWORD, "group": foreign.pk}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["group"]
    assert subs_of(shop_a) == []


def test_own_group_is_assigned(shop_a):
    # SPEC B3
    group = Group.objects.create(shop=shop_a.shop, name="Pre-sales")
    response = shop_a.client().post(
        ACCOUNTS, {"name": "agent1", "password": NEW_PASSWORD, "group": group.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["group"] == group.pk


def test_manager_creates_sub_accounts_with_permissions_it_holds(shop_a):
    # SPEC A2: an account with manage_accounts creates sub-accounts
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS, Perm.VIEW_MONITOR})
    response = shop_a.client(manager).post(
        ACCOUNTS,
        {"name": "agent1", "password": NEW_PASSWORD, "permissions": ["chat", "view_monitor"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["permissions"] == ["chat", "view_monitor"]


def test_manager_cannot_grant_a_permission_it_does_not_hold(shop_a):
    # SPEC A4: no way up through a sub-account
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    agent = shop_a.sub("agent1")
    client = shop_a.client(manager)
    created = client.post(
        ACCOUNTS,
        {"name": "agent2", "password": NEW_PASSWORD, "permissions": ["view_all_history"]},
        format="json",
    )
    before = snapshot(agent)
    changed = client.patch(
        detail(agent), {"permissions": ["chat", "manage_settings"]}, format="json"
    )
    assert created.status_code == 403 and set(created.json()) == {"detail"}
    assert changed.status_code == 403
    assert subs_of(shop_a) == ["lead", "agent1"]
    assert snapshot(agent) == before


def test_agent_without_manage_accounts_cannot_change_accounts(shop_a):
    # SPEC A4; API.md General: 403 authenticated but lacking the permission; nothing changes
    agent = shop_a.sub("agent1", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    colleague = shop_a.sub("agent2")
    client = shop_a.client(agent)
    shop_a.client(colleague)  # its token exists before the snapshot
    before = snapshot(colleague), snapshot(agent), snapshot(shop_a.main)
    answers = [
        client.post(ACCOUNTS, {"name": "agent3", "password": NEW_PASSWORD}, format="json"),
        client.patch(detail(colleague), {"display_name": "x", "is_active": False}, format="json"),
        client.patch(detail(agent), {"permissions": ["manage_accounts"]}, format="json"),
        client.delete(detail(colleague)),
        client.post(f"{detail(colleague)}password/", {"password": NEW_PASSWORD}, format="json"),
        client.post(f"{detail(shop_a.main)}password/", {"password": NEW_PASSWORD}, format="json"),
    ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    assert all(set(a.json()) == {"detail"} for a in answers)
    assert (snapshot(colleague), snapshot(agent), snapshot(shop_a.main)) == before
    assert subs_of(shop_a) == ["agent1", "agent2"]


# Changing


def test_main_account_changes_a_sub_accounts_permissions_and_routing(shop_a):
    # SPEC A4, B1, B3
    agent = shop_a.sub("agent1")
    group = Group.objects.create(shop=shop_a.shop, name="After-sales")
    response = shop_a.client().patch(
        detail(agent),
        {
            "permissions": ["chat", "handle_after_sales"],
            "routing_enabled": False,
            "group": group.pk,
            "weight": 55,
            "max_concurrent": 9,
            "display_name": "Refunds",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["permissions"] == ["chat", "handle_after_sales"]
    assert (body["routing_enabled"], body["group"], body["weight"]) == (False, group.pk, 55)
    assert (body["max_concurrent"], body["display_name"]) == (9, "Refunds")
    assert has_perm(Account.objects.get(pk=agent.pk), Perm.HANDLE_AFTER_SALES)


def test_main_accounts_routing_fields_can_change(shop_a):
    # API.md: the main account's routing fields can be changed (SPEC B1: it may opt out)
    response = shop_a.client().patch(
        detail(shop_a.main), {"routing_enabled": False, "weight": 5}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["routing_enabled"] is False and response.json()["weight"] == 5


@pytest.mark.parametrize("weight", [0, 101])
def test_weight_outside_1_to_100_is_refused(shop_a, weight: int):
    # SPEC B3: weight 1-100
    agent = shop_a.sub("agent1")
    response = shop_a.client().patch(detail(agent), {"weight": weight}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["weight"]
    assert AgentState.objects.get(account=agent).weight == 10


def test_main_account_cannot_be_disabled(shop_a):
    # SPEC A3: the main account can be neither disabled nor deleted
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    shop_a.client()  # the main account's token exists before the snapshot
    before = snapshot(shop_a.main)
    response = shop_a.client().patch(detail(shop_a.main), {"is_active": False}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["is_active"]
    # a manager holds fewer permissions than the main account: it may not act on it at all
    response = shop_a.client(manager).patch(
        detail(shop_a.main), {"is_active": False}, format="json"
    )
    assert response.status_code == 403
    assert snapshot(shop_a.main) == before


def test_main_account_cannot_be_deleted(shop_a):
    # SPEC A3
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    shop_a.client()
    before = snapshot(shop_a.main)
    for client in (shop_a.client(), shop_a.client(manager)):
        response = client.delete(detail(shop_a.main))
        assert response.status_code == 400
        assert response.json() == {"detail": "The main account cannot be deleted."}
    assert snapshot(shop_a.main) == before


def test_main_account_keeps_every_permission(shop_a):
    # SPEC A4: the main account has all of them, always
    response = shop_a.client().patch(detail(shop_a.main), {"permissions": ["chat"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["permissions"]
    assert len(shop_a.client().get(detail(shop_a.main)).json()["permissions"]) == len(Perm)


def test_manager_cannot_change_its_own_permissions_or_disable_itself(shop_a):
    # SPEC A4: no way up through one's own account
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    client = shop_a.client(manager)
    before = snapshot(manager)
    answers = [
        client.patch(detail(manager), {"permissions": ["chat"]}, format="json"),
        client.patch(detail(manager), {"is_active": False}, format="json"),
        client.delete(detail(manager)),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert snapshot(manager) == before


# Deleting


def test_main_account_deletes_a_sub_account(shop_a):
    # SPEC A2
    agent = shop_a.sub("agent1")
    token_client = shop_a.client(agent)
    response = shop_a.client().delete(detail(agent))
    assert response.status_code == 204
    assert not Account.objects.filter(pk=agent.pk).exists()
    assert token_client.get("/api/v1/me/").status_code == 401
    assert login("shop-a:agent1", PASSWORD) == 400


# Passwords and disabling (SPEC A3)


def test_main_account_resets_a_password_without_the_old_one(shop_a):
    # SPEC A3: the old password stops working, and so does the old token
    agent = shop_a.sub("agent1")
    old_client = shop_a.client(agent)
    assert old_client.get("/api/v1/me/").status_code == 200
    response = shop_a.client().post(
        f"{detail(agent)}password/", {"password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204
    assert response.content == b""
    assert login("shop-a:agent1", PASSWORD) == 400
    assert login("shop-a:agent1", NEW_PASSWORD) == 200
    refused = old_client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert set(refused.json()) == {"detail"}


def test_password_reset_ends_the_browser_session(shop_a):
    # SPEC A3: whoever knew the old password is out, sessions included
    agent = shop_a.sub("agent1")
    browser = APIClient()
    browser.force_login(agent)
    assert browser.get("/api/v1/me/").status_code == 200
    shop_a.client().post(f"{detail(agent)}password/", {"password": NEW_PASSWORD}, format="json")
    assert browser.get("/api/v1/me/").status_code == 401


def test_weak_reset_password_is_refused_and_the_old_one_still_works(shop_a):
    agent = shop_a.sub("agent1")
    response = shop_a.client().post(
        f"{detail(agent)}password/", {"password": "short"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]
    assert login("shop-a:agent1", PASSWORD) == 200


def test_manager_cannot_reset_the_main_accounts_password(shop_a):
    # SPEC A3: only the main account changes its own password
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    response = shop_a.client(manager).post(
        f"{detail(shop_a.main)}password/", {"password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert login("shop-a", PASSWORD) == 200


def test_manager_cannot_take_over_an_account_with_more_permissions(shop_a):
    # SPEC A4: resetting a more powerful colleague's password would be a way up
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    auditor = shop_a.sub("auditor", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    peer = shop_a.sub("peer", {Perm.CHAT})
    client = shop_a.client(manager)
    refused = client.post(f"{detail(auditor)}password/", {"password": NEW_PASSWORD}, format="json")
    allowed = client.post(f"{detail(peer)}password/", {"password": NEW_PASSWORD}, format="json")
    assert refused.status_code == 403
    assert login("shop-a:auditor", PASSWORD) == 200
    assert allowed.status_code == 204
    assert login("shop-a:peer", NEW_PASSWORD) == 200


def test_manager_cannot_change_disable_or_delete_a_more_privileged_colleague(shop_a):
    # amended A4: a manager acts only on accounts whose permissions are a subset of its own
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    senior = shop_a.sub("senior", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    shop_a.client(senior)  # its token exists before the snapshot
    client = shop_a.client(manager)
    before = snapshot(senior)
    answers = [
        client.patch(detail(senior), {"display_name": "改名"}, format="json"),
        client.patch(detail(senior), {"weight": 90, "routing_enabled": False}, format="json"),
        client.patch(detail(senior), {"permissions": ["chat"]}, format="json"),
        client.patch(detail(senior), {"is_active": False}, format="json"),
        client.delete(detail(senior)),
    ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    assert all(set(a.json()) == {"detail"} for a in answers)
    assert "permissions you do not hold" in answers[0].json()["detail"]
    # and nothing changed: the account, its routing, its permissions, its token, its login
    assert snapshot(senior) == before
    assert login("shop-a:senior", PASSWORD) == 200
    assert subs_of(shop_a) == ["lead", "senior"]


def test_manager_acts_on_colleagues_with_no_more_permissions_than_its_own(shop_a):
    # amended A4: a subset, equal sets included, is within reach
    manager = shop_a.sub("lead", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    peer = shop_a.sub("peer", {Perm.CHAT})
    twin = shop_a.sub("twin", {Perm.CHAT, Perm.MANAGE_ACCOUNTS})
    client = shop_a.client(manager)
    renamed = client.patch(detail(peer), {"display_name": "小王", "weight": 30}, format="json")
    disabled = client.patch(detail(twin), {"is_active": False}, format="json")
    deleted = client.delete(detail(peer))
    assert (renamed.status_code, disabled.status_code, deleted.status_code) == (200, 200, 204)
    assert not Account.objects.get(pk=twin.pk).is_active
    assert subs_of(shop_a) == ["lead", "twin"]


def test_disabled_sub_account_is_logged_out_everywhere(shop_a):
    # SPEC A3: its sessions and tokens end at once
    agent = shop_a.sub("agent1")
    token_client = shop_a.client(agent)
    browser = APIClient()
    browser.force_login(agent)
    assert token_client.get("/api/v1/me/").status_code == 200
    assert browser.get("/api/v1/me/").status_code == 200
    shop_a.client(agent).post("/api/v1/me/status/", {"status": "online"}, format="json")
    response = shop_a.client().patch(detail(agent), {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert response.json()["status"] == "offline"
    assert token_client.get("/api/v1/me/").status_code == 401
    assert browser.get("/api/v1/me/").status_code == 401
    assert login("shop-a:agent1", PASSWORD) == 400


def test_re_enabled_sub_account_logs_in_again(shop_a):
    # SPEC A3
    agent = shop_a.sub("agent1")
    shop_a.client().patch(detail(agent), {"is_active": False}, format="json")
    response = shop_a.client().patch(detail(agent), {"is_active": True}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert login("shop-a:agent1", PASSWORD) == 200


# Authentication


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/me/"),
        ("patch", "/api/v1/me/"),
        ("post", "/api/v1/me/status/"),
        ("get", ACCOUNTS),
        ("post", ACCOUNTS),
        ("get", f"{ACCOUNTS}1/"),
        ("patch", f"{ACCOUNTS}1/"),
        ("delete", f"{ACCOUNTS}1/"),
        ("post", f"{ACCOUNTS}1/password/"),
    ],
)
def test_calls_without_credentials_are_401(anon: APIClient, shop_a, method: str, path: str):
    # API.md General: 401 unauthenticated
    before = Account.objects.count()
    response = getattr(anon, method)(path, {"display_name": "x"}, format="json")
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert Account.objects.count() == before


def test_bad_token_is_401(shop_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/me/").status_code == 401
