"""The audit log (SPEC I5, 操作日志; issue 12): a change of an account, a permission, a setting,
the shop, a group, an API key or a webhook leaves one row naming who, what (before and after),
which target, when and from which address; the main account reads its shop's rows, nobody else
(``GET /api/v1/audit/`` and the audit page)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.accounts.permissions import ALL_PERMS, Perm
from apps.audit.models import AuditEntry
from apps.shops.models import ShopSettings
from conftest import PASSWORD, ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

ADDRESS = "203.0.113.7"
PUBLIC = "https://93.184.215.14/hook"


def client_from(kit: ShopKit, account: Account | None = None, address: str = ADDRESS) -> APIClient:
    client = kit.client(account)
    client.defaults["REMOTE_ADDR"] = address
    return client


def only_row(**lookup: Any) -> AuditEntry:
    rows = list(AuditEntry.objects.filter(**lookup))
    assert len(rows) == 1, [(r.action, r.changes) for r in AuditEntry.objects.all()]
    return rows[0]


def check(
    entry: AuditEntry, kit: ShopKit, action: str, target_type: str, target_id: object
) -> None:
    assert entry.shop_id == kit.shop.pk
    assert entry.action == action
    assert (entry.target_type, entry.target_id) == (target_type, str(target_id))
    assert (entry.actor_id, entry.actor_kind, entry.actor_name) == (
        kit.main.pk,
        "account",
        kit.main.username,
    )
    assert entry.address == ADDRESS


# ---------------------------------------------------------------------------------------------
# Each kind of change


def test_accounts_and_their_permissions(shop_a):
    api = client_from(shop_a)
    # made
    made = api.post(
        "/api/v1/accounts/",
        {"name": "xiaowang", "password": PASSWORD, "permissions": ["chat"]},
        format="json",
    ).json()
    entry = only_row(action="account.created")
    check(entry, shop_a, "account.created", "account", made["id"])
    assert entry.target_name == "shop-a:xiaowang"
    assert entry.changes["permissions"] == {"before": None, "after": ["chat"]}
    # a permission granted and the display name changed: one row, both fields
    api.patch(
        f"/api/v1/accounts/{made['id']}/",
        {"permissions": ["chat", "handle_orders"], "display_name": "小王"},
        format="json",
    )
    entry = only_row(action="account.updated")
    check(entry, shop_a, "account.updated", "account", made["id"])
    assert entry.changes == {
        "permissions": {"before": ["chat"], "after": ["chat", "handle_orders"]},
        "display_name": {"before": "", "after": "小王"},
    }
    # disabled: one row more, with is_active
    api.patch(f"/api/v1/accounts/{made['id']}/", {"is_active": False}, format="json")
    assert AuditEntry.objects.filter(action="account.updated").count() == 2
    latest = AuditEntry.objects.filter(action="account.updated").latest("id")
    assert latest.changes == {"is_active": {"before": True, "after": False}}
    # a change that changes nothing leaves no row
    api.patch(f"/api/v1/accounts/{made['id']}/", {"display_name": "小王"}, format="json")
    assert AuditEntry.objects.filter(action="account.updated").count() == 2
    # the password reset, never its value
    api.post(f"/api/v1/accounts/{made['id']}/password/", {"password": "An0ther-passw0rd!"})
    entry = only_row(action="account.password_reset")
    check(entry, shop_a, "account.password_reset", "account", made["id"])
    assert entry.changes == {"password": {"before": "[secret]", "after": "[secret]"}}
    assert "An0ther" not in str(AuditEntry.objects.values_list("changes", flat=True))
    # deleted: the row stays, naming it
    api.delete(f"/api/v1/accounts/{made['id']}/")
    entry = only_row(action="account.deleted")
    check(entry, shop_a, "account.deleted", "account", made["id"])
    assert entry.target_name == "shop-a:xiaowang"
    assert entry.changes["permissions"] == {"before": ["chat", "handle_orders"], "after": None}


def test_settings_before_and_after(shop_a):
    api = client_from(shop_a)
    response = api.patch(
        "/api/v1/settings/",
        {"welcome_text": "您好！", "queue_order": "newest_first", "rating_enabled": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    entry = only_row(action="settings.updated")
    check(entry, shop_a, "settings.updated", "settings", shop_a.shop.pk)
    # each changed field, before and after; an unchanged one (rating_enabled) is not there
    assert entry.changes == {
        "welcome_text": {"before": "", "after": "您好！"},
        "queue_order": {"before": "wait_first", "after": "newest_first"},
    }


def test_a_refused_change_leaves_no_row(shop_a):
    api = client_from(shop_a)
    refused = api.patch(
        "/api/v1/settings/",
        {"buyer_silence_seconds": 60, "buyer_warning_seconds": 120},
        format="json",
    )
    assert refused.status_code == 400
    assert not AuditEntry.objects.exists()


def test_the_widget_secret_rotation_without_the_secret(shop_a):
    client_from(shop_a).post("/api/v1/settings/widget-secret/")
    entry = only_row(action="settings.widget_secret_rotated")
    check(entry, shop_a, "settings.widget_secret_rotated", "settings", shop_a.shop.pk)
    secret = ShopSettings.objects.get(shop=shop_a.shop).widget_secret
    assert secret not in str(entry.changes)


def test_the_shop_profile(shop_a):
    response = client_from(shop_a).patch("/api/v1/shop/", {"name": "A 店"}, format="json")
    assert response.status_code == 200, response.content
    entry = only_row(action="shop.updated")
    check(entry, shop_a, "shop.updated", "shop", shop_a.shop.pk)
    assert entry.changes == {"name": {"before": "Shop A", "after": "A 店"}}


def test_groups(shop_a):
    api = client_from(shop_a)
    group = api.post(
        "/api/v1/groups/", {"name": "售后", "scope": {"intents": ["退货"]}}, format="json"
    ).json()
    entry = only_row(action="group.created")
    check(entry, shop_a, "group.created", "group", group["id"])
    assert entry.changes["scope_intents"] == {"before": None, "after": ["退货"]}
    api.patch(f"/api/v1/groups/{group['id']}/", {"max_concurrent": 3}, format="json")
    entry = only_row(action="group.updated")
    assert entry.changes == {"max_concurrent": {"before": None, "after": 3}}
    api.delete(f"/api/v1/groups/{group['id']}/")
    entry = only_row(action="group.deleted")
    check(entry, shop_a, "group.deleted", "group", group["id"])
    assert entry.target_name == "售后"


def test_api_keys_and_webhooks(shop_a):
    api = client_from(shop_a)
    key = api.post("/api/v1/api-keys/", {"name": "ERP"}, format="json").json()
    entry = only_row(action="api_key.created")
    check(entry, shop_a, "api_key.created", "api_key", key["id"])
    assert key["key"] not in str(entry.changes) and key["prefix"] in entry.target_name
    # a webhook made with the key: the key is the actor
    with_key = APIClient()
    with_key.credentials(HTTP_AUTHORIZATION=f"Bearer {key['key']}")
    with_key.defaults["REMOTE_ADDR"] = "198.51.100.20"
    hook = with_key.post(
        "/api/v1/webhooks/", {"url": PUBLIC, "events": ["message.created"]}, format="json"
    ).json()
    entry = only_row(action="webhook.created")
    assert (entry.actor_id, entry.actor_kind) == (None, "api_key")
    assert entry.actor_name == f"{key['prefix']}… ERP"
    assert entry.address == "198.51.100.20"
    assert entry.changes["url"] == {"before": None, "after": PUBLIC}
    assert hook["secret"] not in str(entry.changes)
    api.patch(f"/api/v1/webhooks/{hook['id']}/", {"events": ["conversation.closed"]}, format="json")
    entry = only_row(action="webhook.updated")
    check(entry, shop_a, "webhook.updated", "webhook", hook["id"])
    assert entry.changes == {
        "events": {"before": ["message.created"], "after": ["conversation.closed"]}
    }
    api.delete(f"/api/v1/webhooks/{hook['id']}/")
    check(only_row(action="webhook.deleted"), shop_a, "webhook.deleted", "webhook", hook["id"])
    api.delete(f"/api/v1/api-keys/{key['id']}/")
    check(only_row(action="api_key.revoked"), shop_a, "api_key.revoked", "api_key", key["id"])


def test_the_address_is_the_clients_behind_trusted_proxies_only(shop_a, settings):
    # a client cannot write its own address into the log
    api = client_from(shop_a, address="198.51.100.1")
    api.post("/api/v1/groups/", {"name": "g1"}, format="json", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEntry.objects.get().address == "198.51.100.1"
    # behind a trusted proxy, the address the proxy saw
    settings.HELPDESK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxied = client_from(shop_a, address="10.0.0.2")
    proxied.post("/api/v1/groups/", {"name": "g2"}, format="json", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEntry.objects.latest("id").address == "1.2.3.4"


def test_a_page_change_is_recorded_with_the_address(shop_a):
    # the pages write through the same services
    page = signed_in(shop_a.main)
    page.post(reverse("web:admin-group-create"), {"name": "页面分组"})
    entry = only_row(action="group.created")
    assert entry.actor_id == shop_a.main.pk and entry.address == "127.0.0.1"


def test_an_agent_changing_its_own_profile_is_recorded(shop_a):
    agent = shop_a.sub("xiaoli", {Perm.CHAT})
    client_from(shop_a, agent).patch("/api/v1/me/", {"display_name": "小李"}, format="json")
    entry = only_row(action="account.updated", target_id=str(agent.pk))
    assert entry.actor_id == agent.pk
    assert entry.changes == {"display_name": {"before": "", "after": "小李"}}


def test_sensitive_words_added_changed_and_removed(shop_a, shop_b):
    # SPEC I6's word list through the API: one row per change, with who, what and from where
    api = client_from(shop_a)
    word = api.post(
        "/api/v1/sensitive-words/", {"word": "加微信", "action": "mask"}, format="json"
    ).json()
    entry = only_row(action="sensitive_word.created")
    check(entry, shop_a, "sensitive_word.created", "sensitive_word", word["id"])
    assert entry.target_name == "加微信"
    assert entry.changes == {
        "word": {"before": None, "after": "加微信"},
        "action": {"before": None, "after": "mask"},
    }
    api.patch(f"/api/v1/sensitive-words/{word['id']}/", {"action": "block"}, format="json")
    entry = only_row(action="sensitive_word.updated")
    check(entry, shop_a, "sensitive_word.updated", "sensitive_word", word["id"])
    assert entry.changes == {"action": {"before": "mask", "after": "block"}}
    # a change that changes nothing leaves no row
    api.patch(f"/api/v1/sensitive-words/{word['id']}/", {"action": "block"}, format="json")
    assert AuditEntry.objects.filter(action="sensitive_word.updated").count() == 1
    api.delete(f"/api/v1/sensitive-words/{word['id']}/")
    entry = only_row(action="sensitive_word.deleted")
    check(entry, shop_a, "sensitive_word.deleted", "sensitive_word", word["id"])
    assert entry.changes == {
        "word": {"before": "加微信", "after": None},
        "action": {"before": "block", "after": None},
    }
    # a refused change (a duplicate) leaves nothing, and shop B's log has nothing of it
    api.post("/api/v1/sensitive-words/", {"word": "淘宝", "action": "mask"}, format="json")
    refused = api.post("/api/v1/sensitive-words/", {"word": "淘宝", "action": "mask"})
    assert refused.status_code == 400
    assert AuditEntry.objects.filter(action="sensitive_word.created").count() == 2
    assert not AuditEntry.objects.filter(shop=shop_b.shop).exists()
    assert shop_b.client().get("/api/v1/audit/").json()["count"] == 0


def test_buyers_blocked_changed_and_unblocked(shop_a, shop_b):
    api = client_from(shop_a)
    api.post("/api/v1/blocked-buyers/", {"buyer": "b-17", "reason": "辱骂客服"}, format="json")
    entry = only_row(action="buyer.blocked")
    check(entry, shop_a, "buyer.blocked", "buyer", "b-17")
    assert entry.changes == {"reason": {"before": None, "after": "辱骂客服"}}
    # blocking again with another reason: the reason changed
    api.post("/api/v1/blocked-buyers/", {"buyer": "b-17", "reason": "广告"}, format="json")
    entry = only_row(action="buyer.block_updated")
    check(entry, shop_a, "buyer.block_updated", "buyer", "b-17")
    assert entry.changes == {"reason": {"before": "辱骂客服", "after": "广告"}}
    # the same again changes nothing
    api.post("/api/v1/blocked-buyers/", {"buyer": "b-17", "reason": "广告"}, format="json")
    assert AuditEntry.objects.filter(action="buyer.block_updated").count() == 1
    assert api.delete("/api/v1/blocked-buyers/b-17/").status_code == 204
    entry = only_row(action="buyer.unblocked")
    check(entry, shop_a, "buyer.unblocked", "buyer", "b-17")
    assert entry.changes == {"reason": {"before": "广告", "after": None}}
    # unblocking one that is not blocked is a 404 and no row
    assert api.delete("/api/v1/blocked-buyers/b-17/").status_code == 404
    assert AuditEntry.objects.filter(action="buyer.unblocked").count() == 1
    # all of it is shop A's: the kind filter finds it, shop B sees nothing
    assert api.get("/api/v1/audit/?action=buyer").json()["count"] == 3
    assert not AuditEntry.objects.filter(shop=shop_b.shop).exists()
    assert shop_b.client().get("/api/v1/audit/").json()["count"] == 0


def test_the_safety_page_changes_are_recorded_with_the_address(shop_a, shop_b):
    # the safety page (apps/web/safety_pages.py) writes through the same services
    page = signed_in(shop_a.main)
    page.defaults["REMOTE_ADDR"] = ADDRESS
    safety = reverse("web:admin-safety")
    page.post(safety, {"form": "word", "word": "刷单", "action": "mask"})
    word = only_row(action="sensitive_word.created")
    check(word, shop_a, "sensitive_word.created", "sensitive_word", word.target_id)
    page.post(reverse("web:admin-safety-word", args=[int(word.target_id)]), {"op": "switch"})
    entry = only_row(action="sensitive_word.updated")
    assert entry.changes == {"action": {"before": "mask", "after": "block"}}
    assert entry.address == ADDRESS
    page.post(reverse("web:admin-safety-word", args=[int(word.target_id)]), {"op": "delete"})
    check(
        only_row(action="sensitive_word.deleted"),
        shop_a,
        "sensitive_word.deleted",
        "sensitive_word",
        word.target_id,
    )
    page.post(safety, {"form": "block", "buyer": "b-9", "reason": ""})
    check(only_row(action="buyer.blocked"), shop_a, "buyer.blocked", "buyer", "b-9")
    page.post(reverse("web:admin-safety-unblock"), {"buyer": "b-9"})
    check(only_row(action="buyer.unblocked"), shop_a, "buyer.unblocked", "buyer", "b-9")
    # the retention and who the words apply to are settings: settings.updated
    page.post(safety, {"form": "settings", "retention_days": 30})  # the box left unticked
    entry = only_row(action="settings.updated")
    check(entry, shop_a, "settings.updated", "settings", shop_a.shop.pk)
    assert entry.changes == {
        "retention_days": {"before": 365, "after": 30},
        "sensitive_words_agents": {"before": True, "after": False},
    }
    assert not AuditEntry.objects.filter(shop=shop_b.shop).exists()


# ---------------------------------------------------------------------------------------------
# Reading it


def test_the_main_account_reads_its_shops_log_newest_first_and_filtered(shop_a, shop_b):
    api = client_from(shop_a)
    api.post("/api/v1/groups/", {"name": "g"}, format="json")
    api.patch("/api/v1/settings/", {"welcome_text": "hi"}, format="json")
    shop_b.client().patch("/api/v1/settings/", {"welcome_text": "B's secret text"}, format="json")
    log = api.get("/api/v1/audit/").json()
    assert log["count"] == 2
    newest = log["results"][0]
    assert newest["action"] == "settings.updated"
    assert set(newest) == {
        "id",
        "created_at",
        "actor",
        "actor_kind",
        "actor_name",
        "address",
        "action",
        "target_type",
        "target_id",
        "target_name",
        "changes",
    }
    assert newest["actor"] == shop_a.main.pk and newest["address"] == ADDRESS
    assert newest["changes"] == {"welcome_text": {"before": "", "after": "hi"}}
    assert "B's secret text" not in str(log)
    # filters: a kind of target, an action, a target, an account, a time
    assert api.get("/api/v1/audit/?action=group").json()["count"] == 1
    assert api.get("/api/v1/audit/?action=settings.updated").json()["count"] == 1
    assert api.get("/api/v1/audit/?target_type=settings").json()["count"] == 1
    assert api.get(f"/api/v1/audit/?actor={shop_a.main.pk}").json()["count"] == 2
    assert api.get(f"/api/v1/audit/?actor={shop_b.main.pk}").json()["count"] == 0
    assert api.get("/api/v1/audit/?since=2999-01-01T00:00:00Z").json()["count"] == 0
    assert api.get("/api/v1/audit/?until=2999-01-01T00:00:00Z").json()["count"] == 2
    paged = api.get("/api/v1/audit/?page_size=1").json()
    assert paged["count"] == 2 and len(paged["results"]) == 1 and paged["next"]
    assert api.get("/api/v1/audit/?since=yesterday").status_code == 400
    # shop B sees its own row only
    assert shop_b.client().get("/api/v1/audit/").json()["count"] == 1


def test_only_the_main_account_reads_the_log(shop_a, anon):
    everything = shop_a.sub("deputy", set(ALL_PERMS))
    assert shop_a.client(everything).get("/api/v1/audit/").status_code == 403
    assert anon.get("/api/v1/audit/").status_code == 401
    key = shop_a.client().post("/api/v1/api-keys/", {"name": "k"}, format="json").json()["key"]
    with_key = APIClient()
    with_key.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert with_key.get("/api/v1/audit/").status_code == 401


def test_the_audit_page_is_the_main_accounts(shop_a):
    client_from(shop_a).patch("/api/v1/settings/", {"welcome_text": "您好"}, format="json")
    page = signed_in(shop_a.main).get(reverse("web:admin-audit"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Settings changed" in html and "您好" in html and ADDRESS in html
    assert 'href="/admin/audit/"' in html  # in the main account's menu
    deputy: Client = signed_in(shop_a.sub("deputy", set(ALL_PERMS)))
    assert deputy.get(reverse("web:admin-audit")).status_code == 403
    menu_page = deputy.get(reverse("web:admin-integrations")).content.decode()
    assert 'href="/admin/audit/"' not in menu_page
    assert html.count("data-audit=") == 1
    filtered = signed_in(shop_a.main).get(reverse("web:admin-audit"), {"action": "group"})
    assert "data-audit=" not in filtered.content.decode()
    same = signed_in(shop_a.main).get(reverse("web:admin-audit"), {"action": "settings"})
    assert same.content.decode().count("data-audit=") == 1
