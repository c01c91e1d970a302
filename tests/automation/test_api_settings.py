"""Settings of SPEC D through the API: what a shop owner may and may not save (API.md)."""

from __future__ import annotations

import pytest

from apps.shops.models import ShopSettings

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

SETTINGS = "/api/v1/settings/"


def test_owner_sets_hours_until_midnight_and_a_sale_day(shop_a):
    hours = {
        "weekly": [{"weekday": 5, "start": "10:00", "end": "24:00"}],
        "exceptions": [{"date": "2025-11-11", "closed": False, "start": "00:00", "end": "24:00"}],
    }
    r = shop_a.client().patch(SETTINGS, {"business_hours": hours}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["business_hours"] == {
        "weekly": [{"weekday": 5, "start": "10:00", "end": "24:00"}],
        "exceptions": [{"date": "2025-11-11", "closed": False, "start": "00:00", "end": "24:00"}],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "business_hours": {
                    "weekly": [
                        {"weekday": 0, "start": "08:00", "end": "12:00"},
                        {"weekday": 0, "start": "11:30", "end": "19:00"},
                    ]
                }
            },
            "business_hours",
        ),
        (
            {"business_hours": {"weekly": [{"weekday": 0, "start": "08:00", "end": "24:30"}]}},
            "business_hours",
        ),
        ({"buyer_warning_seconds": 300}, "buyer_warning_seconds"),  # not before the timeout
        ({"agent_silence_seconds": 60, "agent_warning_seconds": 60}, "agent_warning_seconds"),
        ({"buyer_silence_seconds": 8 * 24 * 3600}, "buyer_silence_seconds"),
        ({"welcome_text": "您好" * 501}, "welcome_text"),
        ({"agent_silence_action": "ignore"}, "agent_silence_action"),
    ],
)
def test_refused_automation_settings_say_why_and_change_nothing(shop_a, body, field):
    before = ShopSettings.objects.filter(shop=shop_a.shop).values().get()
    r = shop_a.client().patch(SETTINGS, body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"], r.json()
    assert ShopSettings.objects.filter(shop=shop_a.shop).values().get() == before


def test_zero_switches_silence_timeouts_and_warnings_off(shop_a):
    body = {"buyer_silence_seconds": 0, "buyer_warning_seconds": 0, "agent_warning_seconds": 0}
    r = shop_a.client().patch(SETTINGS, body, format="json")
    assert r.status_code == 200, r.content
    assert {k: r.json()[k] for k in body} == body
