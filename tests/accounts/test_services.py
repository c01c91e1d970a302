"""Account services below the API (SPEC A1-A3, B1)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.accounts.models import Account, AccountKind
from apps.accounts.permissions import Perm, has_perm
from apps.backoffice import services
from apps.conversations.lifecycle import agent_set_status
from apps.core.errors import InvalidInput
from apps.routing.models import AgentState, AgentStatus, StatusChange
from apps.shops.models import Shop, ShopSettings
from conftest import PASSWORD


@pytest.mark.django_db(transaction=True)
def test_quota_holds_when_two_managers_create_sub_accounts_at_once(shop_a):
    # SPEC A2; STYLE 6: the count and the insert are not a check-then-act race
    # given a shop with room for one more sub-account
    Shop.objects.filter(pk=shop_a.shop.pk).update(sub_account_quota=1)
    main = Account.objects.get(pk=shop_a.main.pk)
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def create(name: str) -> None:
        try:
            start.wait()
            services.account_create(actor=main, name=name, password=PASSWORD)
            outcomes[name] = "created"
        except InvalidInput as exc:
            outcomes[name] = exc.message
        finally:
            connection.close()  # each thread had its own connection

    # when two requests create a sub-account at the same moment, each on its own connection
    threads = [threading.Thread(target=create, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # then exactly one succeeds and the other is told the quota is used up
    assert sorted(outcomes.values()) == [
        "The shop has used all 1 of its sub-accounts.",
        "created",
    ]
    assert Account.objects.filter(shop=shop_a.shop, kind=AccountKind.SUB).count() == 1


def test_signup_creates_settings_and_a_routing_state_for_the_main_account(db):
    # SPEC A1, B1: signing up creates the shop, its settings and its main account
    signup = services.shop_signup(slug="tea-house", name="Tea House", password=PASSWORD)
    settings = ShopSettings.objects.get(shop=signup.shop)
    assert settings.widget_secret and len(settings.widget_secret) == 64
    assert settings.default_max_concurrent == 5 and settings.agents_set_own_max is True
    state = AgentState.objects.get(account=signup.account)
    assert state.shop_id == signup.shop.pk
    assert state.routing_enabled is True
    assert state.status == AgentStatus.OFFLINE
    assert signup.account.kind == AccountKind.MAIN and signup.account.username == "tea-house"
    assert all(has_perm(signup.account, perm) for perm in Perm)


def test_every_account_starts_offline(shop_a):
    # SPEC B1: every account starts offline
    agent = shop_a.sub("agent1", routing_enabled=False)
    states = AgentState.objects.filter(shop=shop_a.shop)
    assert {s.account_id: s.status for s in states} == {
        shop_a.main.pk: AgentStatus.OFFLINE,
        agent.pk: AgentStatus.OFFLINE,
    }
    assert AgentState.objects.get(account=agent).routing_enabled is False
    assert not StatusChange.objects.filter(shop=shop_a.shop).exists()


def test_each_shop_has_its_own_settings_and_secret(shop_a, shop_b):
    # SPEC A1, H3: the widget secret is per shop
    secrets = set(ShopSettings.objects.values_list("widget_secret", flat=True))
    assert len(secrets) == 2


def test_disabling_takes_an_online_agent_offline(shop_a):
    # SPEC A3, B9: a disabled agent goes offline like an explicit logout
    agent = shop_a.sub("agent1")
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    services.account_set_active(actor=shop_a.main, account=agent, active=False)
    assert AgentState.objects.get(account=agent).status == AgentStatus.OFFLINE
    assert StatusChange.objects.filter(account=agent).latest("at").reason == "disabled"
    assert not Account.objects.get(pk=agent.pk).is_active
