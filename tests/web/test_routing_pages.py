"""The routing and queue settings page and the business hours page (SPEC B, C, D2, G1, A4;
issue 9): every field saved through the settings service (what the API then shows), every bad
value shown at once with nothing written, the shop's groups alone, the permission of each page,
and the week grid with its exceptions and whether the shop is open now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from apps.accounts.permissions import Perm
from apps.backoffice.groups import group_create
from apps.backoffice.shop_settings import ROUTING_FIELDS
from apps.routing.models import Group
from apps.web.routing_pages import RoutingSettingsForm
from conftest import ShopKit
from tests.support.web import settings_of, signed_in

pytestmark = pytest.mark.django_db

ROUTING = "web:admin-routing"
HOURS = "web:admin-hours"


def a_group(kit: ShopKit, name: str) -> Group:
    return group_create(actor=kit.main, name=name)


def routing_form(**changes: Any) -> dict[str, Any]:
    """The routing form as the page posts it, with the defaults of SPEC, then ``changes``."""
    data: dict[str, Any] = {
        "assignment_rule": "capacity",
        "reentry_window_seconds": "10",
        "reentry_window_seconds_unit": "60",
        "default_max_concurrent": "5",
        "agents_set_own_max": "on",
        "queue_mode": "shop",
        "queue_order": "wait_first",
        "avg_handling_seconds": "10",
        "avg_handling_seconds_unit": "60",
        "offline_routing": "on",
        "offline_grace_seconds": "90",
        "offline_grace_seconds_unit": "1",
        "offline_handling": "main_account",
        "pool_auto_assign": "on",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


ROUTING_VALUES = (
    "assignment_rule",
    "recent_contact_first",
    "reentry_window_seconds",
    "buyer_chooses_agent",
    "default_max_concurrent",
    "agents_set_own_max",
    "queue_mode",
    "queue_groups",
    "queue_order",
    "avg_handling_seconds",
    "offline_routing",
    "offline_grace_seconds",
    "offline_handling",
    "pool_auto_assign",
)


def test_the_page_has_every_routing_field_of_the_api():
    assert set(ROUTING_VALUES) == ROUTING_FIELDS
    assert set(RoutingSettingsForm.base_fields) == ROUTING_FIELDS


def routing_values(kit: ShopKit) -> dict[str, Any]:
    s = settings_of(kit)
    return {name: getattr(s, name) for name in ROUTING_VALUES}


# --- Routing and queue ---------------------------------------------------------------------------


def test_the_owner_changes_every_routing_setting_and_the_api_shows_the_same(shop_a: ShopKit):
    # Given a shop with two groups and the default settings
    pre_sale = a_group(shop_a, "售前")
    after_sale = a_group(shop_a, "售后")
    client = signed_in(shop_a.main)
    page = client.get(reverse(ROUTING))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Routing and queue</h1>" in html
    for section in ("Assignment", "Queue", "Offline agents"):
        assert f"<legend>{section}</legend>" in html
    # the API's names, durations in whole minutes
    assert 'name="reentry_window_seconds" value="10"' in html
    assert f'name="queue_groups" value="{pre_sale.pk}"' in html

    # When the owner changes every field
    response = client.post(
        reverse(ROUTING),
        routing_form(
            assignment_rule="even",
            recent_contact_first="on",
            reentry_window_seconds="5",
            reentry_window_seconds_unit="60",
            buyer_chooses_agent="on",
            default_max_concurrent="8",
            agents_set_own_max=None,
            queue_mode="groups",
            queue_groups=[str(after_sale.pk)],
            queue_order="newest_first",
            avg_handling_seconds="90",
            avg_handling_seconds_unit="1",
            offline_routing=None,
            offline_grace_seconds="2",
            offline_grace_seconds_unit="60",
            offline_handling="pool",
            pool_auto_assign=None,
        ),
    )

    # Then it is saved, the page says so, and the API reads the same values
    assert response.status_code == 302 and response["Location"] == reverse(ROUTING)
    expected = {
        "assignment_rule": "even",
        "recent_contact_first": True,
        "reentry_window_seconds": 300,
        "buyer_chooses_agent": True,
        "default_max_concurrent": 8,
        "agents_set_own_max": False,
        "queue_mode": "groups",
        "queue_groups": [after_sale.pk],
        "queue_order": "newest_first",
        "avg_handling_seconds": 90,
        "offline_routing": False,
        "offline_grace_seconds": 120,
        "offline_handling": "pool",
        "pool_auto_assign": False,
    }
    assert routing_values(shop_a) == expected
    api = shop_a.client().get("/api/v1/settings/").json()
    assert {name: api[name] for name in expected} == expected
    after = client.get(reverse(ROUTING))
    assert "The routing and queue settings were saved." in after.content.decode()
    # and the routing order follows the settings: the rule and the queue order
    steps = after.context["steps"]
    titles = [str(s.title) for s in steps]
    assert titles.index("Buyer's choice") < titles.index("Recent contact")
    assert titles.index("Recent contact") < titles.index("Reception scope")
    assert titles.index("Reception scope") < titles.index("Even distribution")
    assert titles.index("Even distribution") < titles.index("Queue")
    queue = steps[titles.index("Queue")]
    assert "newest first" in queue.text and "售后" in queue.text and "售前" not in queue.text
    assert "5 min" in steps[titles.index("Re-entry window")].text
    assert "message pool, until an agent claims it" in steps[-1].text


def test_the_routing_order_shows_off_steps_and_the_capacity_rule(shop_a: ShopKit):
    page = signed_in(shop_a.main).get(reverse(ROUTING))
    steps = {str(s.title): s for s in page.context["steps"]}
    assert steps["Buyer's choice"].active is False and steps["Recent contact"].active is False
    assert "lowest load" in steps["Remaining capacity"].text
    assert "simple mode" in steps["Reception scope"].text
    assert "longest waiting first" in steps["Queue"].text
    html = page.content.decode()
    assert "data-routing-steps" in html and "How a buyer is routed" in html


def test_another_shops_group_cannot_queue_and_nothing_is_saved(shop_a: ShopKit, shop_b: ShopKit):
    own = a_group(shop_a, "售前")
    foreign = a_group(shop_b, "VIP")
    before = routing_values(shop_a)
    response = signed_in(shop_a.main).post(
        reverse(ROUTING),
        routing_form(
            assignment_rule="even", queue_mode="groups", queue_groups=[own.pk, foreign.pk]
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["queue_groups"] and str(foreign.pk) in errors["queue_groups"][0]
    assert routing_values(shop_a) == before  # not even the rule
    # and shop B's group name never shows on shop A's page
    assert "VIP" not in response.content.decode()


def test_bad_values_are_all_shown_at_once_and_nothing_is_written(shop_a: ShopKit):
    before = routing_values(shop_a)
    response = signed_in(shop_a.main).post(
        reverse(ROUTING),
        routing_form(
            assignment_rule="fastest",
            reentry_window_seconds="-1",
            default_max_concurrent="0",
            queue_mode="sometimes",
            queue_order="random",
            avg_handling_seconds="0",
            offline_grace_seconds="abc",
            offline_handling="nobody",
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {
        "assignment_rule",
        "reentry_window_seconds",
        "default_max_concurrent",
        "queue_mode",
        "queue_order",
        "avg_handling_seconds",
        "offline_grace_seconds",
        "offline_handling",
    }
    assert errors["avg_handling_seconds"] == ["Must be at least 1 second."]
    assert errors["reentry_window_seconds"] == ["Must be 0 (off) or more."]
    html = response.content.decode()
    assert "Please check the following:" in html and html.count('class="errorlist') >= 8
    assert routing_values(shop_a) == before


def test_routing_needs_manage_routing_not_manage_settings(shop_a: ShopKit):
    settings_only = shop_a.sub("s", {Perm.CHAT, Perm.MANAGE_SETTINGS})
    client = signed_in(settings_only)
    assert client.get(reverse(ROUTING)).status_code == 403
    assert client.post(reverse(ROUTING), routing_form(assignment_rule="even")).status_code == 403
    assert settings_of(shop_a).assignment_rule == "capacity"

    router = shop_a.sub("r", {Perm.CHAT, Perm.MANAGE_ROUTING})
    client = signed_in(router)
    assert client.get(reverse(ROUTING)).status_code == 200
    assert (
        client.post(reverse(ROUTING), routing_form(queue_order="newest_first")).status_code == 302
    )
    assert settings_of(shop_a).queue_order == "newest_first"
    # the hours page is manage_settings' (SPEC A4)
    assert client.get(reverse(HOURS)).status_code == 403


def test_signed_out_visitors_go_to_the_login_page(shop_a: ShopKit):
    for page in (ROUTING, HOURS):
        response = Client().get(reverse(page))
        assert response.status_code == 302 and "/login/" in response["Location"]


# --- Business hours ------------------------------------------------------------------------------


def hours_form(
    weekly: list[tuple[int, str, str]],
    exceptions: list[dict[str, str]] = (),  # type: ignore[assignment]
    closed_weekdays: list[int] = (),  # type: ignore[assignment]
    blank_rows: int = 2,
) -> dict[str, Any]:
    """The hours page's post: its week rows and exception rows, plus ``blank_rows`` empty ones of
    each (what a browser without scripts posts)."""
    data: dict[str, Any] = {"closed_weekdays": [str(d) for d in closed_weekdays]}
    rows = [*weekly, *[(d, "", "") for d in range(blank_rows)]]
    for i, (weekday, start, end) in enumerate(rows):
        data[f"weekly-{i}-weekday"] = str(weekday)
        data[f"weekly-{i}-start"] = start
        data[f"weekly-{i}-end"] = end
    data.update({"weekly-TOTAL_FORMS": str(len(rows)), "weekly-INITIAL_FORMS": "0"})
    entries = [*exceptions, *[{} for _ in range(blank_rows)]]
    for i, entry in enumerate(entries):
        for name in ("date", "closed", "start", "end"):
            if entry.get(name):
                data[f"exceptions-{i}-{name}"] = entry[name]
    data.update({"exceptions-TOTAL_FORMS": str(len(entries)), "exceptions-INITIAL_FORMS": "0"})
    return data


def test_the_week_grid_shows_monday_first_and_the_default_hours(shop_a: ShopKit):
    page = signed_in(shop_a.main).get(reverse(HOURS))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Business hours</h1>" in html
    days = page.context["days"]
    assert [d.name for d in days] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    monday = days[0]
    assert monday.open and [r["start"].value() for r in monday.rows] == ["08:00", ""]
    assert "Asia/Shanghai" in html and 'href="/admin/replies/"' in html
    # in Chinese too, Monday first
    zh = signed_in(shop_a.main).get(reverse(HOURS), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.context["days"][0].name in ("星期一", "周一")


def test_the_owner_saves_a_week_with_split_and_closed_days(shop_a: ShopKit):
    response = signed_in(shop_a.main).post(
        reverse(HOURS),
        hours_form(
            weekly=[
                (0, "9:00", "12:00"),
                (0, "13:30", "18:00"),
                (1, "09:00", "24:00"),
                (2, "08:00", "19:00"),  # closed by the day's box: dropped
                (5, "10:00", "16:00"),
            ],
            closed_weekdays=[2],
        ),
    )
    assert response.status_code == 302
    saved = settings_of(shop_a).business_hours
    assert saved["weekly"] == [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 0, "start": "13:30", "end": "18:00"},
        {"weekday": 1, "start": "09:00", "end": "24:00"},
        {"weekday": 5, "start": "10:00", "end": "16:00"},
    ]
    assert shop_a.client().get("/api/v1/settings/").json()["business_hours"] == saved
    page = signed_in(shop_a.main).get(reverse(HOURS))
    open_days = [d.open for d in page.context["days"]]
    assert open_days == [True, True, False, False, False, True, False]


def test_the_owner_adds_a_holiday_and_a_special_day_and_removes_one(shop_a: ShopKit):
    weekly = [(d, "08:00", "19:00") for d in range(7)]
    client = signed_in(shop_a.main)
    response = client.post(
        reverse(HOURS),
        hours_form(
            weekly,
            exceptions=[
                {"date": "2026-10-01", "closed": "on"},
                {"date": "2026-11-11", "start": "00:00", "end": "12:00"},
                {"date": "2026-11-11", "start": "13:00", "end": "24:00"},
            ],
        ),
    )
    assert response.status_code == 302
    assert settings_of(shop_a).business_hours["exceptions"] == [
        {"date": "2026-10-01", "closed": True},
        {"date": "2026-11-11", "closed": False, "start": "00:00", "end": "12:00"},
        {"date": "2026-11-11", "closed": False, "start": "13:00", "end": "24:00"},
    ]
    api = shop_a.client().get("/api/v1/settings/").json()["business_hours"]
    assert api["exceptions"][0] == {"date": "2026-10-01", "closed": True}

    # the page shows them, with empty rows to add more, and "remove" takes one away
    page = client.get(reverse(HOURS))
    rows = page.context["exceptions"].forms
    assert [r["date"].value() for r in rows][:3] != [None, None, None]
    assert len(rows) == 5
    data = hours_form(
        weekly,
        exceptions=[
            {"date": "2026-10-01", "closed": "on"},
            {"date": "2026-11-11", "start": "00:00", "end": "12:00"},
        ],
    )
    data["exceptions-0-DELETE"] = "on"
    assert client.post(reverse(HOURS), data).status_code == 302
    assert settings_of(shop_a).business_hours["exceptions"] == [
        {"date": "2026-11-11", "closed": False, "start": "00:00", "end": "12:00"}
    ]


def test_bad_rows_are_marked_where_they_are_and_nothing_is_written(shop_a: ShopKit):
    before = settings_of(shop_a).business_hours
    response = signed_in(shop_a.main).post(
        reverse(HOURS),
        hours_form(
            weekly=[
                (0, "18:00", "09:00"),  # end before start
                (1, "09:00", "13:00"),
                (1, "12:00", "18:00"),  # overlaps the one before
                (2, "25:00", "26:00"),  # no such time
                (3, "09:00", ""),  # half a range
            ],
            exceptions=[
                {"date": "2026-02-30", "closed": "on"},  # no such date
                {"date": "2026-05-01", "start": "10:00"},
                {"date": "2026-06-01", "closed": "on"},
                {"date": "2026-06-01", "start": "10:00", "end": "12:00"},
            ],
        ),
    )
    assert response.status_code == 200
    weekly = response.context["weekly"].forms
    assert weekly[0].errors == {"end": ["The end comes after the start."]}
    assert weekly[1].errors == {}
    assert weekly[2].errors == {"start": ["Overlaps another range of this day."]}
    assert "start" in weekly[3].errors and "end" in weekly[3].errors
    assert weekly[4].errors == {"end": ["Enter both the start and the end."]}
    exceptions = response.context["exceptions"].forms
    assert list(exceptions[0].errors) == ["date"]
    assert exceptions[1].errors == {"start": ["Tick closed, or enter the hours of that day."]}
    assert exceptions[2].errors == {}
    assert exceptions[3].errors == {
        "date": ["2026-06-01 is listed twice: closed, and in another row."]
    }
    html = response.content.decode()
    assert "Please check the rows marked below." in html
    assert 'value="18:00"' in html  # what was typed stays, next to its error
    assert settings_of(shop_a).business_hours == before


def test_overlapping_exception_hours_are_refused(shop_a: ShopKit):
    before = settings_of(shop_a).business_hours
    response = signed_in(shop_a.main).post(
        reverse(HOURS),
        hours_form(
            [(0, "08:00", "19:00")],
            exceptions=[
                {"date": "2026-11-11", "start": "08:00", "end": "20:00"},
                {"date": "2026-11-11", "start": "10:00", "end": "12:00"},
            ],
        ),
    )
    assert response.status_code == 200
    errors = [f.errors for f in response.context["exceptions"].forms]
    assert errors[1] == {"start": ["Overlaps another range of this date."]}
    assert settings_of(shop_a).business_hours == before


def test_hours_need_manage_settings(shop_a: ShopKit):
    router = shop_a.sub("r", {Perm.CHAT, Perm.MANAGE_ROUTING})
    before = settings_of(shop_a).business_hours
    client = signed_in(router)
    assert client.get(reverse(HOURS)).status_code == 403
    assert client.post(reverse(HOURS), hours_form([(0, "09:00", "10:00")])).status_code == 403
    assert settings_of(shop_a).business_hours == before
    manager = shop_a.sub("m", {Perm.CHAT, Perm.MANAGE_SETTINGS})
    client = signed_in(manager)
    assert client.get(reverse(HOURS)).status_code == 200
    assert client.post(reverse(HOURS), hours_form([(0, "09:00", "10:00")])).status_code == 302
    assert settings_of(shop_a).business_hours["weekly"] == [
        {"weekday": 0, "start": "09:00", "end": "10:00"}
    ]


def test_a_holiday_today_makes_the_page_say_closed_now(shop_a: ShopKit):
    # Given Wednesday 2026-11-11 10:00 in Shanghai (02:00 UTC), inside the default 08:00-19:00
    with time_machine.travel(datetime(2026, 11, 11, 2, 0, tzinfo=UTC), tick=False):
        client = signed_in(shop_a.main)
        page = client.get(reverse(HOURS))
        assert page.context["open_now"] is True
        assert "data-open-now" in page.content.decode()
        assert "Today: 08:00–19:00" in page.content.decode()

        # When the owner closes today
        weekly = [(d, "08:00", "19:00") for d in range(7)]
        response = client.post(
            reverse(HOURS), hours_form(weekly, exceptions=[{"date": "2026-11-11", "closed": "on"}])
        )
        assert response.status_code == 302

        # Then the page says the shop is closed now
        page = client.get(reverse(HOURS))
        html = page.content.decode()
        assert page.context["open_now"] is False
        assert "data-closed-now" in html and "Closed now" in html and "Today: closed" in html
        assert "Opens again: Nov. 12, 2026 Thursday 08:00" in html

    # and on the next day (Thursday, 10:00 shop time) it is open again
    with time_machine.travel(datetime(2026, 11, 12, 2, 0, tzinfo=UTC), tick=False):
        assert client.get(reverse(HOURS)).context["open_now"] is True
