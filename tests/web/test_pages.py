"""The browser pages (SPEC A1-A4, E1, G1): signing in and up, the workbench, the accounts admin,
the widget demo and the error pages. Real PostgreSQL; two shops at hand."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, perms_of
from apps.routing.models import AgentState, AgentStatus, Group
from apps.shops.models import Shop
from apps.web.demo import load_demo
from apps.web.throttle import PageThrottle
from conftest import PASSWORD, ShopKit
from tests.support.web import signed_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-passphrase"


def login(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("web:login"), {"username": username, "password": password})


def session_account_id(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def text_of(response) -> str:
    return response.content.decode()


# --- Signing in (SPEC A2) --------------------------------------------------------------------


def test_main_account_signs_in_with_the_shop_name(client, shop_a: ShopKit):
    response = login(client, "shop-a")
    assert response.status_code == 302
    assert response.url == reverse("web:workbench")
    assert session_account_id(client) == shop_a.main.pk


def test_sub_account_signs_in_with_shop_colon_name(client, shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    response = login(client, "shop-a:agent1")
    assert response.status_code == 302
    assert session_account_id(client) == agent.pk


def test_sub_account_signs_in_with_a_full_width_colon(client, shop_a: ShopKit):
    agent = shop_a.sub("小王")
    response = login(client, " Shop-A：小王 ")
    assert response.status_code == 302
    assert session_account_id(client) == agent.pk


def test_login_page_explains_the_login_name_format(client, db):
    response = client.get(reverse("web:login"))
    assert response.status_code == 200
    page = text_of(response)
    assert "demo:xiaowang" in page
    assert 'autocomplete="username"' in page
    assert 'for="id_username"' in page


def test_wrong_password_shows_a_clear_message_and_signs_nobody_in(client, shop_a: ShopKit):
    shop_a.sub("agent1")
    response = login(client, "shop-a:agent1", "wrong-password")
    assert response.status_code == 200
    assert "The login name or the password is wrong" in text_of(response)
    assert session_account_id(client) is None


def test_disabled_account_cannot_sign_in(client, shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    Account.objects.filter(pk=agent.pk).update(is_active=False)
    response = login(client, "shop-a:agent1")
    assert response.status_code == 200
    assert session_account_id(client) is None


def test_login_is_throttled_in_the_api_bucket(client, shop_a: ShopKit, monkeypatch):
    monkeypatch.setitem(PageThrottle.THROTTLE_RATES, "auth", "2/min")
    login(client, "shop-a", "wrong-password")
    login(client, "shop-a", "wrong-password")
    response = login(client, "shop-a")  # the right password, but over the limit
    assert response.status_code == 429
    assert "Too many attempts" in text_of(response)
    assert session_account_id(client) is None


def test_logout_needs_post_and_takes_the_agent_offline(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    client = signed_in(agent)
    client.post(reverse("me-status"), {"status": "online"}, content_type="application/json")
    assert AgentState.objects.get(account=agent).status == AgentStatus.ONLINE

    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"), follow=True)

    assert session_account_id(client) is None
    assert response.redirect_chain[-1][0] == reverse("web:login")
    assert "You are signed out." in text_of(response)
    assert AgentState.objects.get(account=agent).status == AgentStatus.OFFLINE


# --- Signing up (SPEC A1) --------------------------------------------------------------------


def signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "slug": "tea-house",
        "name": "Tea House 茶馆",
        "time_zone": "Asia/Shanghai",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    data.update(overrides)
    return data


def test_signup_page_offers_time_zones_with_shanghai_first_choice(client, db):
    page = text_of(client.get(reverse("web:signup")))
    assert re.search(r'<option value="Asia/Shanghai"[^>]*selected', page)
    assert '<option value="Europe/Berlin"' in page


def test_signup_creates_the_shop_and_lands_on_the_workbench(client, db):
    response = client.post(reverse("web:signup"), signup_data(), follow=True)

    assert response.redirect_chain == [(reverse("web:workbench"), 302)]
    shop = Shop.objects.get(slug="tea-house")
    assert shop.name == "Tea House 茶馆"
    assert shop.time_zone == "Asia/Shanghai"
    main = Account.objects.get(shop=shop, kind="main")
    assert session_account_id(client) == main.pk
    page = text_of(response)
    assert "Tea House 茶馆" in page  # header: the shop's name
    assert "tea-house" in page  # the signed-in account's login name
    assert "Your shop Tea House 茶馆 is ready" in page


def test_signup_shows_the_services_error_on_its_field(client, shop_a: ShopKit):
    response = client.post(reverse("web:signup"), signup_data(slug="shop-a"))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["slug"] == ["A shop with this name already exists."]
    assert Shop.objects.filter(slug="shop-a").count() == 1
    assert session_account_id(client) is None


def test_signup_rejects_a_weak_password_and_differing_repeat(client, db):
    response = client.post(
        reverse("web:signup"), signup_data(password="12345678", password2="12345678")
    )
    assert "password" in response.context["form"].errors
    response = client.post(reverse("web:signup"), signup_data(password2="something-else-1"))
    assert "password2" in response.context["form"].errors
    assert not Shop.objects.filter(slug="tea-house").exists()


# --- Workbench (SPEC E1) ---------------------------------------------------------------------


def test_workbench_needs_a_signed_in_account(client, db):
    response = client.get(reverse("web:workbench"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("web:login"))


def test_workbench_shows_the_account_status_switch_and_honest_empty_state(shop_a: ShopKit):
    agent = shop_a.sub("agent1", display_name="小王")
    page = text_of(signed_in(agent).get(reverse("web:workbench")))
    assert "小王" in page
    assert "shop-a:agent1" in page
    assert re.search(r'name="status"[^>]*value="offline"[^>]*checked', page)  # starts offline
    assert 'data-status-url="/api/v1/me/status/"' in page
    assert 'data-ws-path="/ws/agent/"' in page
    assert "No conversations yet. Buyers appear here when routing assigns them." in page
    assert "csrfmiddlewaretoken" in page


def test_workbench_offers_own_max_only_when_the_shop_allows_it(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    client = signed_in(agent)
    assert "data-max-form" in text_of(client.get(reverse("web:workbench")))
    shop_a.shop.settings.agents_set_own_max = False
    shop_a.shop.settings.save()
    page = text_of(client.get(reverse("web:workbench")))
    assert "data-max-form" not in page
    assert "Your shop sets the maximum for you." in page


def test_status_api_accepts_the_pages_session_with_csrf(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    page = text_of(client.get(reverse("web:workbench")))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    refused = client.post(reverse("me-status"), {"status": "online"}, "application/json")
    accepted = client.post(
        reverse("me-status"), {"status": "online"}, "application/json", HTTP_X_CSRFTOKEN=token
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert AgentState.objects.get(account=agent).status == AgentStatus.ONLINE


# --- Accounts admin (SPEC A2-A4, G1) ---------------------------------------------------------


def create_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "小李",
        "display_name": "Li",
        "password": PASSWORD,
        "permissions": ["chat", "handle_orders"],
        "routing_enabled": "on",
        "group": "",
        "weight": "20",
        "max_concurrent": "",
    }
    data.update(overrides)
    return data


def test_admin_root_leads_to_the_accounts(shop_a: ShopKit):
    response = signed_in(shop_a.main).get("/admin/")
    assert response.status_code == 302
    assert response.url == reverse("web:admin-accounts")


def test_accounts_list_shows_main_first_with_routing_fields(shop_a: ShopKit):
    group = Group.objects.create(shop=shop_a.shop, name="售前")
    shop_a.sub("agent1", group=group, weight=30)
    response = signed_in(shop_a.main).get(reverse("web:admin-accounts"))
    assert response.status_code == 200
    page = text_of(response)
    assert page.index('data-account="shop-a"') < page.index('data-account="shop-a:agent1"')
    assert "售前" in page
    assert "1 of 20 sub-accounts in use" in page


def test_main_account_creates_a_sub_account(shop_a: ShopKit):
    group = Group.objects.create(shop=shop_a.shop, name="售后")
    client = signed_in(shop_a.main)

    response = client.post(
        reverse("web:admin-account-create"), create_data(group=str(group.pk)), follow=True
    )

    assert response.redirect_chain == [(reverse("web:admin-accounts"), 302)]
    agent = Account.objects.get(username="shop-a:小李")
    assert agent.display_name == "Li"
    assert set(perms_of(agent)) == {"chat", "handle_orders"}
    state = AgentState.objects.get(account=agent)
    assert (state.group, state.weight, state.max_concurrent) == (group, 20, None)
    assert state.routing_enabled is True
    assert "Sub-account shop-a:小李 was created" in text_of(response)


def test_create_form_offers_only_the_shops_own_groups(shop_a: ShopKit, shop_b: ShopKit):
    Group.objects.create(shop=shop_a.shop, name="ours")
    theirs = Group.objects.create(shop=shop_b.shop, name="theirs")
    client = signed_in(shop_a.main)
    page = text_of(client.get(reverse("web:admin-account-create")))
    assert "ours" in page and "theirs" not in page

    response = client.post(reverse("web:admin-account-create"), create_data(group=theirs.pk))

    assert "group" in response.context["form"].errors
    assert not Account.objects.filter(username="shop-a:小李").exists()


def test_service_error_shows_on_the_name_field(shop_a: ShopKit):
    response = signed_in(shop_a.main).post(
        reverse("web:admin-account-create"), create_data(name="bad:name")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "A name may not contain colons, spaces, slashes or @."
    ]


def test_quota_error_is_shown_and_nothing_is_created(shop_a: ShopKit):
    shop_a.shop.sub_account_quota = 1
    shop_a.shop.save()
    shop_a.sub("agent1")
    client = signed_in(shop_a.main)
    assert "All 1 sub-accounts of the shop are in use" in text_of(
        client.get(reverse("web:admin-accounts"))
    )

    response = client.post(reverse("web:admin-account-create"), create_data())

    assert response.status_code == 200
    page = text_of(response)
    assert "The shop has used all 1 of its sub-accounts." in page
    assert 'class="error-summary"' in page
    assert Account.objects.filter(shop=shop_a.shop, kind="sub").count() == 1


def test_edit_changes_permissions_and_routing_fields(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    group = Group.objects.create(shop=shop_a.shop, name="vip")
    response = signed_in(shop_a.main).post(
        reverse("web:admin-account-edit", args=[agent.pk]),
        {
            "display_name": "Agent One",
            "permissions": ["chat", "view_monitor"],
            "group": group.pk,
            "weight": "55",
            "max_concurrent": "7",
        },
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    state = AgentState.objects.get(account=agent)
    assert agent.display_name == "Agent One"
    assert set(perms_of(agent)) == {"chat", "view_monitor"}
    assert (state.group, state.weight, state.max_concurrent) == (group, 55, 7)
    assert state.routing_enabled is False  # the unticked box


def test_main_accounts_routing_can_change_but_not_its_permissions(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    url = reverse("web:admin-account-edit", args=[shop_a.main.pk])
    assert "The main account holds every permission, always." in text_of(client.get(url))

    response = client.post(url, {"display_name": "Boss", "permissions": [], "weight": "5"})

    assert response.status_code == 302
    assert set(perms_of(shop_a.main)) == {p.value for p in Perm}
    assert AgentState.objects.get(account=shop_a.main).weight == 5


def test_main_account_resets_a_sub_accounts_password(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    agent_client = signed_in(agent)

    response = signed_in(shop_a.main).post(
        reverse("web:admin-account-password", args=[agent.pk]),
        {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password(NEW_PASSWORD)
    # The agent's old session has ended; the new password signs in.
    assert agent_client.get(reverse("web:workbench")).status_code == 302
    fresh = Client()
    login(fresh, "shop-a:agent1", NEW_PASSWORD)
    assert session_account_id(fresh) == agent.pk


def test_own_password_reset_keeps_this_session(shop_a: ShopKit):
    client = signed_in(shop_a.main)
    client.post(
        reverse("web:admin-account-password", args=[shop_a.main.pk]),
        {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert client.get(reverse("web:workbench")).status_code == 200


def test_disabling_ends_the_session_and_blocks_sign_in(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    agent_client = signed_in(agent)

    response = signed_in(shop_a.main).post(
        reverse("web:admin-account-active", args=[agent.pk]), {"active": "0"}, follow=True
    )

    agent.refresh_from_db()
    assert agent.is_active is False
    assert "is disabled" in text_of(response)
    assert agent_client.get(reverse("web:workbench")).status_code == 302
    fresh = Client()
    login(fresh, "shop-a:agent1")
    assert session_account_id(fresh) is None


def test_enabling_again_lets_the_account_sign_in(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    client = signed_in(shop_a.main)
    url = reverse("web:admin-account-active", args=[agent.pk])
    client.post(url, {"active": "0"})
    client.post(url, {"active": "1"})
    agent.refresh_from_db()
    assert agent.is_active is True


def test_main_account_cannot_be_disabled_and_is_told_why(shop_a: ShopKit):
    response = signed_in(shop_a.main).post(
        reverse("web:admin-account-active", args=[shop_a.main.pk]), {"active": "0"}, follow=True
    )
    assert "The main account cannot be disabled." in text_of(response)
    # a manager (fewer permissions than the main account) may not even try (amended A4)
    manager = shop_a.sub("boss", {Perm.MANAGE_ACCOUNTS, Perm.CHAT})
    refused = signed_in(manager).post(
        reverse("web:admin-account-active", args=[shop_a.main.pk]), {"active": "0"}
    )
    assert refused.status_code == 403
    shop_a.main.refresh_from_db()
    assert shop_a.main.is_active is True


def test_delete_asks_first_then_deletes_on_post(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    client = signed_in(shop_a.main)
    url = reverse("web:admin-account-delete", args=[agent.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Delete shop-a:agent1?" in text_of(confirm)
    assert Account.objects.filter(pk=agent.pk).exists()

    response = client.post(url, follow=True)
    assert response.redirect_chain == [(reverse("web:admin-accounts"), 302)]
    assert not Account.objects.filter(pk=agent.pk).exists()
    assert "shop-a:agent1 was deleted." in text_of(response)


def test_sub_account_without_manage_accounts_gets_403_and_no_admin_nav(shop_a: ShopKit):
    agent = shop_a.sub("agent1")
    client = signed_in(agent)
    assert reverse("web:admin-accounts") not in text_of(client.get(reverse("web:workbench")))

    for url in [
        reverse("web:admin-accounts"),
        reverse("web:admin-account-create"),
        reverse("web:admin-account-edit", args=[agent.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "You do not have access to this page" in text_of(response)

    response = client.post(reverse("web:admin-account-create"), create_data())
    assert response.status_code == 403
    assert not Account.objects.filter(username="shop-a:小李").exists()


def test_manager_sub_account_sees_admin_nav_and_grants_only_what_it_holds(shop_a: ShopKit):
    manager = shop_a.sub("boss", {Perm.MANAGE_ACCOUNTS, Perm.CHAT})
    client = signed_in(manager)
    assert reverse("web:admin-accounts") in text_of(client.get(reverse("web:workbench")))

    page = text_of(client.get(reverse("web:admin-account-create")))
    assert 'value="chat"' in page and 'value="view_monitor"' not in page

    response = client.post(
        reverse("web:admin-account-create"), create_data(permissions=["chat", "view_monitor"])
    )
    assert "permissions" in response.context["form"].errors
    assert not Account.objects.filter(username="shop-a:小李").exists()


def test_manager_cannot_open_or_change_a_more_privileged_colleague(shop_a: ShopKit):
    # amended A4: every page that acts on the colleague answers a readable 403; nothing changes
    manager = shop_a.sub("boss", {Perm.MANAGE_ACCOUNTS, Perm.CHAT})
    senior = shop_a.sub("senior", {Perm.CHAT, Perm.VIEW_ALL_HISTORY})
    peer = shop_a.sub("peer", {Perm.CHAT})
    client = signed_in(manager)
    listing = text_of(client.get(reverse("web:admin-accounts")))
    edit = reverse("web:admin-account-edit", args=[senior.pk])

    answers = [
        client.get(edit),
        client.post(edit, {"permissions": ["chat"], "weight": "12"}),
        client.post(reverse("web:admin-account-active", args=[senior.pk]), {"active": "0"}),
        client.post(reverse("web:admin-account-password", args=[senior.pk]), {}),
        client.post(reverse("web:admin-account-delete", args=[senior.pk])),
    ]

    assert [a.status_code for a in answers] == [403] * len(answers)
    assert "This account holds permissions you do not hold" in text_of(answers[0])
    assert set(perms_of(senior)) == {"chat", "view_all_history"}
    state = AgentState.objects.get(account=senior)
    assert state.weight != 12 and Account.objects.get(pk=senior.pk).is_active
    # the list offers no way to change the senior colleague, and still one for a peer
    assert edit not in listing
    assert reverse("web:admin-account-edit", args=[peer.pk]) in listing


def test_another_shops_account_answers_404_and_changes_nothing(shop_a: ShopKit, shop_b: ShopKit):
    foreign = shop_b.sub("agent1")
    client = signed_in(shop_a.main)
    pk = foreign.pk
    before = (foreign.password, foreign.display_name)

    requests = [
        ("get", reverse("web:admin-account-edit", args=[pk]), {}),
        ("post", reverse("web:admin-account-edit", args=[pk]), {"display_name": "x", "weight": 1}),
        ("get", reverse("web:admin-account-password", args=[pk]), {}),
        (
            "post",
            reverse("web:admin-account-password", args=[pk]),
            {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},
        ),
        ("post", reverse("web:admin-account-active", args=[pk]), {"active": "0"}),
        ("get", reverse("web:admin-account-delete", args=[pk]), {}),
        ("post", reverse("web:admin-account-delete", args=[pk]), {}),
    ]
    for method, url, data in requests:
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url)
        assert "Page not found" in text_of(response)

    foreign.refresh_from_db()
    assert (foreign.password, foreign.display_name, foreign.is_active) == (*before, True)
    assert client.get(reverse("web:admin-account-edit", args=[999_999])).status_code == 404


# --- Languages, widget demo, error pages -----------------------------------------------------


def test_pages_speak_chinese_when_the_browser_asks(client, db):
    response = client.get(reverse("web:login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = text_of(response)
    assert '<html lang="zh-hans">' in page
    assert "登录" in page
    assert "Sign in to the helpdesk" not in page


def test_language_switch_keeps_the_choice(client, db):
    response = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": reverse("web:login")}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("web:login")
    assert "登录" in text_of(client.get(reverse("web:signup")))


def test_service_errors_are_translated_too(client, shop_a: ShopKit):
    response = client.post(
        reverse("web:signup"), signup_data(slug="shop-a"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    error = response.context["form"].errors["slug"][0]
    assert error != "A shop with this name already exists."
    assert re.search(r"[\u4e00-\u9fff]", error)


def test_widget_demo_is_a_signed_buyer_widget_of_the_demo_shop(client, db):
    # SPEC F1, H3: the page plays the shop's server, signing a visitor id with the widget secret
    import hashlib
    import hmac

    shop = load_demo()
    response = client.get(reverse("web:widget-demo"))
    assert response.status_code == 200
    assert "演示小店 Demo Shop" in text_of(response)
    widget = response.context["widget"]
    assert widget["shop"] == "demo" and widget["buyer_id"].startswith("visitor-")
    secret = shop.settings.widget_secret.encode()
    expected = hmac.new(secret, widget["buyer_id"].encode(), hashlib.sha256).hexdigest()
    assert widget["signature"] == expected
    assert b"/static/js/widget.js" in response.content
    # and the same browser stays the same buyer
    assert (
        client.get(reverse("web:widget-demo")).context["widget"]["buyer_id"] == widget["buyer_id"]
    )


def test_widget_demo_answers_even_without_the_demo_shop(client, db):
    response = client.get(reverse("web:widget-demo"))
    assert response.status_code == 200
    assert "The demo shop is not loaded" in text_of(response)


def test_unknown_page_answers_404_in_the_layout(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = text_of(response)
    assert "Page not found" in page
    assert "/static/css/app.css" in page


def test_500_page_renders_without_a_request(db):
    from django.template.loader import get_template

    html = get_template("500.html").render()
    assert "Something went wrong on our side" in html
