"""``POST /api/v1/forecast/`` (SPEC G4, A4; docs/forecast.md): who may ask, one shop's data only,
strict input, deterministic results for a seed, and a suggestion that meets its target when the
suggested roster is run again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle as conv
from apps.conversations.models import Conversation
from apps.routing.models import AgentStatus, Group
from apps.shopdata.models import Buyer
from conftest import ShopKit

pytestmark = pytest.mark.django_db

URL = "/api/v1/forecast/"
# A quiet morning and a busy evening: 14 + 24 + ... buyers an hour.
CURVE = [0] * 9 + [14, 20, 24, 24, 18, 16, 18, 24, 30, 36, 30, 20, 10, 0, 0]
HANDLING = {"distribution": "exponential", "mean_seconds": 600}
ROSTER = [
    {"count": 2, "from": "09:00", "to": "15:00", "max_concurrent": 3},
    {"count": 3, "from": "15:00", "to": "22:00", "max_concurrent": 3},
]


@pytest.fixture(autouse=True)
def _fast_passwords(fast_password_hasher: None) -> None:
    """Accounts made and checked in this process only (see the root conftest)."""


def curve_body(**extra: object) -> dict[str, object]:
    return {"curve": CURVE, "handling": HANDLING, "roster": ROSTER, "seed": 3, **extra}


def without_timing(answer: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in answer.items() if k != "took_ms"}


# ---------------------------------------------------------------------------------------------
# Who may ask (A4: view_monitor, the dashboard and metrics permission)


def test_the_main_account_and_view_monitor_may_forecast_others_get_403(shop_a: ShopKit, anon):
    # given the main account, a supervisor with view_monitor and an agent without it
    supervisor = shop_a.sub("lead", {Perm.VIEW_MONITOR})
    agent = shop_a.sub("agent", {Perm.CHAT, Perm.MANAGE_ROUTING})
    # when each asks for the same forecast
    answers = {
        "main": shop_a.client().post(URL, curve_body(), format="json"),
        "lead": shop_a.client(supervisor).post(URL, curve_body(), format="json"),
        "agent": shop_a.client(agent).post(URL, curve_body(), format="json"),
        "anon": anon.post(URL, curve_body(), format="json"),
    }
    # then the first two get it, the agent 403 and nobody signed in 401
    assert answers["main"].status_code == 200, answers["main"].content
    assert answers["lead"].status_code == 200
    assert answers["agent"].status_code == 403
    assert answers["anon"].status_code == 401
    assert without_timing(answers["main"].json()) == without_timing(answers["lead"].json())


def test_the_answer_has_96_quarter_hours_and_a_summary(shop_a: ShopKit):
    answer = shop_a.client().post(URL, curve_body(), format="json").json()
    buckets = answer["buckets"]
    assert len(buckets) == 96
    assert buckets[36]["start"].endswith("T09:00:00+08:00")  # the shop's time zone (A1)
    assert sum(b["arrivals"] for b in buckets) == sum(CURVE) == answer["summary"]["arrivals"]
    assert set(buckets[40]) == {
        "start",
        "arrivals",
        "queue_avg",
        "queue_max",
        "wait_p50",
        "wait_p90",
        "rate_2min",
        "answered_2min",
        "load",
        "recorded",
    }
    assert buckets[0]["rate_2min"] is None and buckets[0]["load"] is None  # nobody, nothing
    assert answer["inputs"] == {
        "arrivals": "curve",
        "roster": "given",
        "handling": {"distribution": "exponential", "mean_seconds": 600},
    }
    assert answer["suggestion"] is None
    assert isinstance(answer["took_ms"], int)
    summary = answer["summary"]
    assert 0 <= summary["rate_2min"] <= 1 and summary["replay"] is None
    # 2 agents for 6 hours and 3 for 7, plus the time they take to finish their buyers (C7)
    assert 33 <= summary["agent_hours"] < 35


# ---------------------------------------------------------------------------------------------
# Deterministic with a seed


def test_a_generated_curve_gives_the_same_forecast_for_the_same_seed(shop_a: ShopKit):
    client = shop_a.client()
    first = client.post(URL, curve_body(), format="json").json()
    again = client.post(URL, curve_body(), format="json").json()
    other = client.post(URL, curve_body(seed=4), format="json").json()
    assert without_timing(first) == without_timing(again)
    assert first["buckets"] != other["buckets"]
    assert first["summary"]["arrivals"] == other["summary"]["arrivals"]  # the curve's counts


# ---------------------------------------------------------------------------------------------
# The suggestion


def test_the_suggested_roster_meets_the_target_when_run_again(shop_a: ShopKit):
    # given a curve, a roster too small for the evening, and a target of 85 %
    client = shop_a.client()
    body = curve_body(target_rate=0.85, suggest=True)
    answer = client.post(URL, body, format="json").json()
    assert answer["summary"]["target_met"] is False  # the given roster falls short
    suggestion = answer["suggestion"]
    assert suggestion["met"] is True
    assert suggestion["roster"], suggestion
    assert all(row["max_concurrent"] == 5 for row in suggestion["roster"])  # the shop's max
    hours = suggestion["hours"]
    assert [h["arrivals"] for h in hours] == CURVE
    assert all(h["rate_2min"] is None or h["rate_2min"] >= 0.85 for h in hours)
    assert sum(line["count"] for line in hours[3]["agents"]) == 0  # nobody at 03:00
    # when the suggested roster is run as a roster
    rerun = client.post(
        URL, curve_body(target_rate=0.85, roster=suggestion["roster"]), format="json"
    ).json()
    # then it meets the target in every hour, with the figures the suggestion showed
    assert rerun["summary"]["target_met"] is True
    assert rerun["summary"]["rate_2min"] >= 0.85
    assert rerun["summary"]["worst_hour_rate_2min"] >= 0.85
    assert rerun["summary"] == suggestion["summary"]
    assert rerun["buckets"] == suggestion["buckets"]


def test_one_agent_fewer_in_a_busy_suggested_hour_misses_the_target(shop_a: ShopKit):
    # the suggestion is the smallest: take one agent away where it matters and it falls short
    client = shop_a.client()
    suggestion = client.post(URL, curve_body(suggest=True), format="json").json()["suggestion"]
    roster = [dict(row) for row in suggestion["roster"]]
    biggest = max(range(len(roster)), key=lambda n: roster[n]["count"])
    assert roster[biggest]["count"] >= 1
    roster[biggest]["count"] -= 1
    roster = [row for row in roster if row["count"]]
    fewer = client.post(URL, curve_body(roster=roster), format="json").json()
    assert fewer["summary"]["target_met"] is False


def test_the_suggestion_alone_needs_no_roster(shop_a: ShopKit):
    body = {"curve": CURVE, "handling": HANDLING, "suggest": True, "seed": 3}
    answer = shop_a.client().post(URL, body, format="json").json()
    assert answer["inputs"]["roster"] == "suggested"
    assert answer["summary"] == answer["suggestion"]["summary"]


# ---------------------------------------------------------------------------------------------
# Strict input (API.md: 400 with the fields' errors)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"curve": [1] * 23, "roster": ROSTER}, "curve"),
        ({"curve": [1] * 25, "roster": ROSTER}, "curve"),
        ({"curve": [-1] + [1] * 23, "roster": ROSTER}, "curve"),
        ({"curve": [5000] * 24, "roster": ROSTER}, "curve"),  # 120,000 a day: over the cap
        ({"curve": ["many"] + [1] * 23, "roster": ROSTER}, "curve"),
        ({"date": "10-03-2026"}, "date"),
        ({"curve": CURVE, "roster": [{"from": "10:00", "to": "09:00"}]}, "roster"),
        ({"curve": CURVE, "roster": [{"from": "9:00", "to": "10:00"}]}, "roster"),
        ({"curve": CURVE, "roster": [{"from": "10:00", "to": "24:30"}]}, "roster"),
        ({"curve": CURVE, "roster": [{"from": "10:00", "to": "12:00", "count": 0}]}, "roster"),
        (
            {"curve": CURVE, "roster": [{"from": "10:00", "to": "12:00", "max_concurrent": 51}]},
            "roster",
        ),
        (
            {"curve": CURVE, "roster": [{"from": "10:00", "to": "12:00", "agent": 1, "count": 2}]},
            "roster",
        ),
        ({"curve": CURVE, "roster": "everyone"}, "roster"),
        ({"curve": CURVE, "roster": ROSTER, "target_rate": 1.5}, "target_rate"),
        ({"curve": CURVE, "roster": ROSTER, "target_rate": 0}, "target_rate"),
        ({"curve": CURVE, "roster": ROSTER, "handling": {"distribution": "normal"}}, "handling"),
        (
            {"curve": CURVE, "roster": ROSTER, "handling": {"distribution": "lognormal"}},
            "handling",
        ),
        (
            {
                "curve": CURVE,
                "roster": ROSTER,
                "handling": {"distribution": "fixed", "mean_seconds": 60, "sd_seconds": 5},
            },
            "handling",
        ),
        ({"curve": CURVE, "roster": ROSTER, "seed": -1}, "seed"),
        ({"curve": CURVE}, "roster"),  # nothing to staff the day with
        ({"curve": CURVE, "roster": ROSTER, "handling": {"distribution": "recorded"}}, "handling"),
        ({"curve": [1000] * 24, "roster": ROSTER, "suggest": True}, "suggest"),  # 24,000
    ],
)
def test_bad_input_answers_400_naming_the_field(shop_a: ShopKit, body, field):
    answer = shop_a.client().post(URL, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"], answer.json()


def test_neither_a_day_nor_a_curve_is_a_400_saying_so(shop_a: ShopKit):
    answer = shop_a.client().post(URL, {"roster": ROSTER}, format="json")
    assert answer.status_code == 400
    assert "curve" in answer.json()["detail"]


def test_a_day_in_the_future_cannot_be_replayed(shop_a: ShopKit):
    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    answer = shop_a.client().post(URL, {"date": tomorrow}, format="json")
    assert answer.status_code == 400
    assert "date" in answer.json()["errors"]


def test_a_json_body_that_is_not_an_object_is_a_400(shop_a: ShopKit):
    answer = shop_a.client().post(URL, "[1, 2]", content_type="application/json")
    assert answer.status_code == 400


# ---------------------------------------------------------------------------------------------
# One shop's data only (A1)


def test_another_shops_agent_or_group_in_the_roster_is_refused_like_a_missing_one(
    shop_a: ShopKit, shop_b: ShopKit
):
    # given an agent and a group of shop B, named in shop A's roster
    theirs = shop_b.sub("bella-secret-agent", {Perm.CHAT})
    group = Group.objects.create(shop=shop_b.shop, name="shop-b-vip-group")
    client = shop_a.client()
    for row in (
        {"agent": theirs.pk, "from": "09:00", "to": "12:00"},
        {"group": group.pk, "count": 2, "from": "09:00", "to": "12:00"},
        {"agent": 987654, "from": "09:00", "to": "12:00"},
    ):
        answer = client.post(URL, {"curve": CURVE, "roster": [row]}, format="json")
        # then 400 on the roster, the same for a missing id, and nothing of shop B's
        assert answer.status_code == 400, answer.content
        assert list(answer.json()["errors"]) == ["roster"]
        assert b"bella" not in answer.content and b"vip" not in answer.content
    missing = client.post(
        URL,
        {"curve": CURVE, "roster": [{"agent": 987654, "from": "09:00", "to": "12:00"}]},
        format="json",
    ).json()
    foreign = client.post(
        URL,
        {"curve": CURVE, "roster": [{"agent": theirs.pk, "from": "09:00", "to": "12:00"}]},
        format="json",
    ).json()
    assert missing == foreign


def test_a_shop_replays_only_its_own_recorded_day(shop_a: ShopKit, shop_b: ShopKit):
    # given a day on which shop B had buyers and shop A had one
    day = datetime(2026, 3, 9, 10, 0, tzinfo=timezone.get_current_timezone())
    with time_machine.travel(day, tick=False):
        for kit, buyers in ((shop_b, 5), (shop_a, 1)):
            agent = kit.sub("agent", {Perm.CHAT})
            conv.agent_set_status(account=agent, status=AgentStatus.ONLINE)
            for n in range(buyers):
                buyer = Buyer.objects.create(shop=kit.shop, external_id=f"buyer-{n}")
                conv.request_human(conversation=conv.conversation_open(buyer=buyer))
    assert Conversation.objects.filter(shop=shop_b.shop).count() == 5
    # when shop A replays that day
    answer = shop_a.client().post(URL, {"date": day.date().isoformat()}, format="json")
    # then it sees its own buyer alone
    assert answer.status_code == 200, answer.content
    summary = answer.json()["summary"]
    assert summary["arrivals"] == 1
    assert answer.json()["inputs"]["arrivals"] == "recorded"


@pytest.mark.parametrize("day", ["0240-08-04", "1999-12-31", "2999-01-01"])
def test_a_day_out_of_range_is_a_400_naming_the_field(shop_a: ShopKit, day: str):
    # The schema contract run found a forecast of 0240-08-04: Asia/Shanghai's local mean time
    # then (+08:05:43) gave bucket times no client could read as RFC 3339.
    answer = shop_a.client().post(URL, {"date": day}, format="json")
    assert answer.status_code == 400
    assert "date" in answer.json()["errors"]
