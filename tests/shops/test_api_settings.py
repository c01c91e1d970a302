"""The shop's settings through the API (API.md, settings fields; SPEC A4, B, C, D, F1, H3)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.permissions import Perm
from apps.conversations.models import State
from apps.routing.models import Group
from apps.shops.models import ShopSettings
from tests.support.widget import SESSION, buyer_client, session_body, signature

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

SETTINGS = "/api/v1/settings/"
ROTATE = "/api/v1/settings/widget-secret/"
API_MD_FIELDS = {
    "assignment_rule",
    "recent_contact_first",
    "buyer_chooses_agent",
    "queue_mode",
    "queue_groups",
    "queue_order",
    "default_max_concurrent",
    "agents_set_own_max",
    "avg_handling_seconds",
    "reentry_window_seconds",
    "offline_routing",
    "offline_grace_seconds",
    "offline_handling",
    "pool_auto_assign",
    "welcome_enabled",
    "welcome_text",
    "offhours_enabled",
    "offhours_text",
    "queueing_enabled",
    "queueing_text",
    "rating_enabled",
    "buyer_silence_seconds",
    "buyer_warning_seconds",
    "buyer_warning_text",
    "buyer_close_text",
    "agent_silence_seconds",
    "agent_warning_seconds",
    "agent_warning_text",
    "agent_silence_action",
    "business_hours",
    "entrances",
    "system_enabled",
    "allow_anonymous_buyers",
    "recent_orders_days",
    "widget_origins",
}


def stored(kit: Any) -> dict[str, Any]:
    return ShopSettings.objects.filter(shop=kit.shop).values().get()


# Reading


def test_agent_reads_every_settings_field_with_the_spec_defaults(shop_a):
    # API.md: GET returns all fields; SPEC defaults are normative (C1, C4, C5, D5, D6, B9, B11)
    # given an agent with no admin permission
    agent = shop_a.sub("agent1")
    # when it reads the settings
    response = shop_a.client(agent).get(SETTINGS)
    # then every field of API.md is there, with the SPEC's defaults
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= API_MD_FIELDS
    assert {k: body[k] for k in ("assignment_rule", "queue_mode", "queue_order")} == {
        "assignment_rule": "capacity",
        "queue_mode": "shop",
        "queue_order": "wait_first",
    }
    assert (body["default_max_concurrent"], body["agents_set_own_max"]) == (5, True)
    assert (body["avg_handling_seconds"], body["reentry_window_seconds"]) == (600, 600)
    assert (body["buyer_silence_seconds"], body["buyer_warning_seconds"]) == (300, 120)
    assert (body["agent_silence_seconds"], body["agent_warning_seconds"]) == (180, 60)
    assert body["agent_silence_action"] == "close"
    assert (body["offline_routing"], body["offline_grace_seconds"]) == (True, 90)
    assert (body["offline_handling"], body["pool_auto_assign"]) == ("main_account", True)
    assert (body["recent_contact_first"], body["buyer_chooses_agent"]) == (False, False)
    assert body["business_hours"]["weekly"] == [
        {"weekday": d, "start": "08:00", "end": "19:00"} for d in range(7)
    ]
    assert sorted(body["entrances"]) == ["member", "order", "product"]
    assert (body["system_enabled"], body["allow_anonymous_buyers"]) == (True, False)
    # and the widget secret is not shown to a sub-account
    assert "widget_secret" not in body


def test_only_the_main_account_sees_the_widget_secret(shop_a):
    # API.md: widget_secret is read-only, shown to the main account alone (H3)
    admin = shop_a.sub("admin", set(Perm))
    secret = shop_a.shop.settings.widget_secret
    assert shop_a.client().get(SETTINGS).json()["widget_secret"] == secret
    assert "widget_secret" not in shop_a.client(admin).get(SETTINGS).json()


def test_settings_need_a_signed_in_staff_member(shop_a, anon):
    # API.md General: 401 unauthenticated
    assert anon.get(SETTINGS).status_code == 401
    before = stored(shop_a)
    assert anon.patch(SETTINGS, {"queue_mode": "off"}, format="json").status_code == 401
    assert anon.post(ROTATE).status_code == 401
    assert stored(shop_a) == before


# Changing


def test_main_account_changes_routing_and_reply_settings_at_once(shop_a):
    # API.md: PATCH any subset; the answer shows the stored settings
    response = shop_a.client().patch(
        SETTINGS,
        {
            "assignment_rule": "even",
            "queue_order": "newest_first",
            "default_max_concurrent": 8,
            "offline_handling": "pool",
            "welcome_text": "欢迎光临",
            "buyer_silence_seconds": 600,
            "buyer_warning_seconds": 300,
            "agent_silence_action": "reassign",
            "entrances": ["member"],
            "widget_origins": ["https://shop-a.example.com/"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["assignment_rule"], body["queue_order"]) == ("even", "newest_first")
    assert body["welcome_text"] == "欢迎光临"
    assert body["widget_origins"] == ["https://shop-a.example.com"]
    row = stored(shop_a)
    assert (row["default_max_concurrent"], row["offline_handling"]) == (8, "pool")
    assert (row["buyer_silence_seconds"], row["buyer_warning_seconds"]) == (600, 300)
    assert (row["agent_silence_action"], row["entrances"]) == ("reassign", ["member"])
    # and the fields it did not send are as they were
    assert row["queue_mode"] == "shop" and row["agent_silence_seconds"] == 180


def test_sub_account_with_manage_routing_changes_the_queue_settings(shop_a):
    # SPEC A4: manage_routing covers routing and queue settings
    router = shop_a.sub("router", {Perm.MANAGE_ROUTING})
    response = shop_a.client(router).patch(
        SETTINGS, {"queue_mode": "off", "reentry_window_seconds": 0}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (stored(shop_a)["queue_mode"], stored(shop_a)["reentry_window_seconds"]) == ("off", 0)


def test_sub_account_with_manage_settings_changes_timeouts_and_texts(shop_a):
    # SPEC A4: manage_settings covers auto replies, timeouts, business hours
    admin = shop_a.sub("admin", {Perm.MANAGE_SETTINGS})
    hours = {
        "weekly": [{"weekday": 0, "start": "09:00", "end": "18:00"}],
        "exceptions": [{"date": "2025-11-11", "closed": False, "start": "00:00", "end": "24:00"}],
    }
    response = shop_a.client(admin).patch(
        SETTINGS,
        {"agent_silence_seconds": 240, "offhours_text": "下班了", "business_hours": hours},
        format="json",
    )
    assert response.status_code == 200, response.content
    row = stored(shop_a)
    assert (row["agent_silence_seconds"], row["offhours_text"]) == (240, "下班了")
    assert row["business_hours"]["exceptions"][0]["date"] == "2025-11-11"


@pytest.mark.parametrize(
    ("perms", "body"),
    [
        # routing fields need manage_routing (SPEC A4)
        ({Perm.MANAGE_SETTINGS}, {"queue_mode": "off"}),
        ({Perm.MANAGE_SETTINGS}, {"offline_handling": "pool"}),
        ({Perm.MANAGE_SETTINGS}, {"default_max_concurrent": 9}),
        # the other fields need manage_settings
        ({Perm.MANAGE_ROUTING}, {"welcome_text": "hi"}),
        ({Perm.MANAGE_ROUTING}, {"buyer_silence_seconds": 900}),
        ({Perm.MANAGE_ROUTING}, {"system_enabled": False}),
        # one field it may not change refuses the whole request
        ({Perm.MANAGE_ROUTING}, {"queue_mode": "off", "welcome_text": "hi"}),
        ({Perm.CHAT, Perm.VIEW_ALL_HISTORY}, {"queue_order": "newest_first"}),
    ],
)
def test_sub_account_without_the_permission_cannot_change_a_setting(shop_a, perms, body):
    # SPEC A4: 403, and nothing changes
    account = shop_a.sub("someone", perms)
    before = stored(shop_a)
    response = shop_a.client(account).patch(SETTINGS, body, format="json")
    assert response.status_code == 403
    assert "detail" in response.json()
    assert stored(shop_a) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"buyer_warning_seconds": 300}, "buyer_warning_seconds"),  # not before the timeout
        ({"agent_warning_seconds": 200}, "agent_warning_seconds"),
        ({"avg_handling_seconds": 0}, "avg_handling_seconds"),
        ({"offline_grace_seconds": 0}, "offline_grace_seconds"),
        ({"buyer_silence_seconds": -1}, "buyer_silence_seconds"),
        ({"reentry_window_seconds": "ten"}, "reentry_window_seconds"),
        ({"default_max_concurrent": 0}, "default_max_concurrent"),
        ({"default_max_concurrent": 51}, "default_max_concurrent"),
        ({"assignment_rule": "random"}, "assignment_rule"),
        ({"queue_mode": "everyone"}, "queue_mode"),
        ({"offline_handling": "nobody"}, "offline_handling"),
        ({"queue_groups": [999999]}, "queue_groups"),
        ({"entrances": ["cart"]}, "entrances"),
        ({"widget_origins": ["not a url"]}, "widget_origins"),
        ({"business_hours": {"weekly": [{"weekday": 7, "start": "08:00", "end": "19:00"}]}}, None),
        ({"business_hours": {"weekly": [{"weekday": 1, "start": "19:00", "end": "08:00"}]}}, None),
        ({"business_hours": {"weekly": [{"weekday": 1, "start": "8am", "end": "19:00"}]}}, None),
        ({"business_hours": {"weekly": [], "exceptions": [{"date": "2025-13-01"}]}}, None),
        ({"business_hours": {"weekly": [], "exceptions": [{"date": "2025-11-11"}]}}, None),
        ({"business_hours": {"weekly": [{"weekday": 1, "end": "19:00"}]}}, None),
        ({"business_hours": {"weekly": [{"start": "08:00", "end": "19:00"}]}}, None),
        ({"business_hours": {"weekly": [], "exceptions": [{"closed": True}]}}, None),
        ({"business_hours": {"exceptions": []}}, None),
        ({"business_hours": "08:00-19:00"}, None),
    ],
)
def test_bad_settings_are_refused_field_by_field_and_nothing_changes(shop_a, body, field):
    # API.md General: 400 {"errors": {field: [...]}}; SPEC N: bad input changes nothing
    before = stored(shop_a)
    response = shop_a.client().patch(SETTINGS, body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) == [field or "business_hours"]
    assert all(isinstance(m, str) and m for m in errors[field or "business_hours"])
    assert stored(shop_a) == before


def test_queue_groups_name_groups_of_this_shop_only(shop_a, shop_b):
    # SPEC A1, C2: another shop's group id reads as unknown
    theirs = Group.objects.create(shop=shop_b.shop, name="售后")
    ours = Group.objects.create(shop=shop_a.shop, name="售前")
    client = shop_a.client()
    response = client.patch(SETTINGS, {"queue_groups": [theirs.pk]}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["queue_groups"]
    response = client.patch(
        SETTINGS, {"queue_mode": "groups", "queue_groups": [ours.pk, ours.pk]}, format="json"
    )
    assert response.status_code == 200 and response.json()["queue_groups"] == [ours.pk]


def test_a_warning_may_be_moved_together_with_its_timeout(shop_a):
    # API.md General: a warning shorter than its timeout, checked against the merged values
    response = shop_a.client().patch(
        SETTINGS, {"buyer_silence_seconds": 60, "buyer_warning_seconds": 30}, format="json"
    )
    assert response.status_code == 200
    assert (stored(shop_a)["buyer_silence_seconds"], stored(shop_a)["buyer_warning_seconds"]) == (
        60,
        30,
    )


def test_the_widget_secret_cannot_be_written_through_patch(shop_a):
    # API.md: widget_secret is read-only; it changes only by rotation
    secret = stored(shop_a)["widget_secret"]
    response = shop_a.client().patch(SETTINGS, {"widget_secret": "mine"}, format="json")
    assert response.status_code == 200
    assert stored(shop_a)["widget_secret"] == secret


def test_a_body_that_is_not_an_object_is_refused(shop_a):
    # API.md General: never 500 for input
    before = stored(shop_a)
    response = shop_a.client().patch(SETTINGS, ["queue_mode"], format="json")
    assert response.status_code == 400
    assert stored(shop_a) == before


def test_raising_the_shop_max_hands_the_waiting_buyer_to_the_agent(desk_like):
    # SPEC C1, C3: a raised max frees a slot, which takes the next waiting buyer at once
    kit, agent, waiting = desk_like
    response = kit.client().patch(SETTINGS, {"default_max_concurrent": 2}, format="json")
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert (waiting.state, waiting.agent_id) == (State.ACTIVE, agent.pk)


def test_switching_offline_routing_on_hands_a_kept_buyer_to_an_online_agent(shop_a):
    # SPEC B9a: with offline routing off an agent who went offline kept its buyer; switching it
    # on through the API re-routes that buyer before the answer
    from apps.conversations import lifecycle as conv
    from apps.conversations.lifecycle import agent_set_status
    from apps.routing.models import AgentStatus
    from apps.shopdata.models import Buyer

    ShopSettings.objects.filter(shop=shop_a.shop).update(offline_routing=False)
    leaver = shop_a.sub("leaver", {Perm.CHAT})
    agent_set_status(account=leaver, status=AgentStatus.ONLINE)
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="b1")
    kept = conv.request_human(conversation=conv.conversation_open(buyer=buyer))
    agent_set_status(account=leaver, status=AgentStatus.OFFLINE)
    other = shop_a.sub("other", {Perm.CHAT})
    agent_set_status(account=other, status=AgentStatus.ONLINE)
    router = shop_a.sub("router", {Perm.MANAGE_ROUTING})
    response = shop_a.client(router).patch(SETTINGS, {"offline_routing": True}, format="json")
    assert response.status_code == 200 and response.json()["offline_routing"] is True
    kept.refresh_from_db()
    assert (kept.state, kept.agent_id) == (State.ACTIVE, other.pk)


@pytest.fixture
def desk_like(shop_a):
    """An online agent at its max of one, and a second buyer waiting in the queue."""
    from apps.conversations import lifecycle as conv
    from apps.conversations.lifecycle import agent_set_status
    from apps.routing.models import AgentStatus
    from apps.shopdata.models import Buyer

    shop_a.shop.settings.default_max_concurrent = 1
    shop_a.shop.settings.save()
    agent = shop_a.sub("agent1", {Perm.CHAT})
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    first, second = (Buyer.objects.create(shop=shop_a.shop, external_id=b) for b in ("b1", "b2"))
    conv.request_human(conversation=conv.conversation_open(buyer=first))
    waiting = conv.request_human(conversation=conv.conversation_open(buyer=second))
    assert waiting.state == State.QUEUED
    return shop_a, agent, waiting


# Rotating the widget secret


def test_main_account_rotates_the_widget_secret_and_old_signatures_stop_working(shop_a):
    # H3: a new secret; sessions signed with the old one are refused, with the new one accepted
    old = stored(shop_a)["widget_secret"]
    old_body = session_body(shop_a.shop, "buyer-1")
    response = shop_a.client().post(ROTATE)
    assert response.status_code == 200
    new = response.json()["widget_secret"]
    assert new != old and len(new) >= 32
    assert stored(shop_a)["widget_secret"] == new
    assert shop_a.client().get(SETTINGS).json()["widget_secret"] == new
    refused = APIClient().post(SESSION, old_body, format="json")
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["signature"]
    accepted = APIClient().post(
        SESSION, {**old_body, "signature": signature(new, "buyer-1")}, format="json"
    )
    assert accepted.status_code == 200


@pytest.mark.parametrize("perms", [set(Perm), {Perm.MANAGE_SETTINGS}, set()])
def test_sub_account_cannot_rotate_the_widget_secret(shop_a, perms):
    # API.md: the secret is the main account's alone
    account = shop_a.sub("admin", perms)
    before = stored(shop_a)
    response = shop_a.client(account).post(ROTATE)
    assert response.status_code == 403
    assert stored(shop_a) == before


def test_a_buyer_token_is_refused_on_the_settings(shop_a):
    # API.md General: staff endpoints take a staff token, never a buyer's
    response = APIClient().post(SESSION, session_body(shop_a.shop, "buyer-1"), format="json")
    buyer = buyer_client(response.json()["token"])
    before = stored(shop_a)
    assert buyer.get(SETTINGS).status_code == 401
    assert buyer.patch(SETTINGS, {"queue_mode": "off"}, format="json").status_code == 401
    assert buyer.post(ROTATE).status_code == 401
    assert stored(shop_a) == before


def test_business_hours_are_replaced_as_a_whole_with_defaults_filled(shop_a):
    # SPEC D2: weekly schedule plus dated exceptions; `closed` defaults to false, `exceptions`
    # to none, even in a PATCH
    response = shop_a.client().patch(
        SETTINGS,
        {
            "business_hours": {
                "weekly": [{"weekday": 5, "start": "10:00", "end": "16:00"}],
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert stored(shop_a)["business_hours"] == {
        "weekly": [{"weekday": 5, "start": "10:00", "end": "16:00"}],
        "exceptions": [],
    }
    response = shop_a.client().patch(
        SETTINGS,
        {
            "business_hours": {
                "weekly": [],
                "exceptions": [{"date": "2025-11-11", "start": "00:00", "end": "24:00"}],
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert stored(shop_a)["business_hours"]["exceptions"] == [
        {"date": "2025-11-11", "closed": False, "start": "00:00", "end": "24:00"}
    ]
