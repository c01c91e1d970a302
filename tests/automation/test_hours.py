"""Business hours (SPEC D2): pure functions over the schedule, in the shop's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apps.automation.hours import Schedule, closed_since, is_open, problems
from apps.shops.models import default_business_hours

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def test_default_hours_are_eight_to_seven_every_day_in_the_shops_zone():
    hours = Schedule.parse(default_business_hours())
    for day in range(2, 9):  # 2025-06-02 is a Monday: a whole week
        assert not is_open(hours, SHANGHAI, local(SHANGHAI, 2025, 6, day, 7, 59))
        assert is_open(hours, SHANGHAI, local(SHANGHAI, 2025, 6, day, 8, 0))
        assert is_open(hours, SHANGHAI, local(SHANGHAI, 2025, 6, day, 18, 59, 59))
        assert not is_open(hours, SHANGHAI, local(SHANGHAI, 2025, 6, day, 19, 0))
    # the same instant, two zones
    instant = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert not is_open(hours, SHANGHAI, instant) and is_open(hours, BERLIN, instant)


def test_closed_stretch_starts_at_the_end_of_the_last_opening():
    hours = Schedule.parse(default_business_hours())
    # 02:00 on Tuesday: closed since 19:00 on Monday
    assert closed_since(hours, SHANGHAI, local(SHANGHAI, 2025, 6, 3, 2, 0)) == local(
        SHANGHAI, 2025, 6, 2, 19, 0
    )
    # 07:00 the same morning: the same stretch
    assert closed_since(hours, SHANGHAI, local(SHANGHAI, 2025, 6, 3, 7, 0)) == local(
        SHANGHAI, 2025, 6, 2, 19, 0
    )
    assert closed_since(hours, SHANGHAI, local(SHANGHAI, 2025, 6, 3, 12, 0)) is None


def test_exceptions_replace_the_days_weekly_hours_and_24_00_ends_the_day():
    hours = Schedule.parse(
        {
            "weekly": [{"weekday": 0, "start": "09:00", "end": "12:00"}],
            "exceptions": [
                {"date": "2025-06-09", "closed": True},  # a Monday holiday
                {"date": "2025-06-10", "closed": False, "start": "20:00", "end": "24:00"},
                {"date": "2025-06-10", "closed": False, "start": "08:00", "end": "10:00"},
            ],
        }
    )
    assert is_open(hours, BERLIN, local(BERLIN, 2025, 6, 2, 10, 0))  # a plain Monday
    assert not is_open(hours, BERLIN, local(BERLIN, 2025, 6, 9, 10, 0))  # the holiday
    assert is_open(hours, BERLIN, local(BERLIN, 2025, 6, 10, 9, 0))  # a Tuesday sale day
    assert not is_open(hours, BERLIN, local(BERLIN, 2025, 6, 10, 12, 0))
    assert is_open(hours, BERLIN, local(BERLIN, 2025, 6, 10, 23, 59))
    # closed since midnight at the end of the sale day; the holiday skipped back to a week ago
    assert closed_since(hours, BERLIN, local(BERLIN, 2025, 6, 11, 3, 0)) == local(
        BERLIN, 2025, 6, 11, 0, 0
    )
    assert closed_since(hours, BERLIN, local(BERLIN, 2025, 6, 9, 15, 0)) == local(
        BERLIN, 2025, 6, 2, 12, 0
    )


def test_hours_follow_the_wall_clock_across_daylight_saving_time():
    hours = Schedule.parse(default_business_hours())
    # Berlin moves from UTC+1 to UTC+2 on 2025-03-30: 08:00 local is 07:00 UTC, then 06:00 UTC
    assert is_open(hours, BERLIN, datetime(2025, 3, 29, 7, 0, tzinfo=UTC))
    assert is_open(hours, BERLIN, datetime(2025, 3, 31, 6, 0, tzinfo=UTC))
    assert not is_open(hours, BERLIN, datetime(2025, 3, 31, 5, 59, tzinfo=UTC))


def test_a_shop_with_no_hours_at_all_is_closed_since_the_start_of_each_day():
    hours = Schedule.parse({"weekly": [], "exceptions": []})
    assert closed_since(hours, SHANGHAI, local(SHANGHAI, 2025, 6, 2, 15, 0)) == local(
        SHANGHAI, 2025, 6, 2, 0, 0
    )


def test_problems_overlaps_24_00_and_a_day_both_closed_and_open():
    assert problems(default_business_hours()) == []
    assert problems({"weekly": [{"weekday": 1, "start": "18:00", "end": "24:00"}]}) == []
    assert problems({"weekly": [{"weekday": 1, "start": "18:00", "end": "24:30"}]})
    assert problems(
        {
            "weekly": [
                {"weekday": 2, "start": "08:00", "end": "12:00"},
                {"weekday": 2, "start": "11:00", "end": "19:00"},
            ]
        }
    ) == ["The hours of weekday 2 overlap."]
    assert problems(
        {
            "weekly": [],
            "exceptions": [
                {"date": "2025-06-09", "closed": True},
                {"date": "2025-06-09", "closed": False, "start": "08:00", "end": "12:00"},
            ],
        }
    ) == ["2025-06-09 is listed as closed and with hours."]
