"""Business hours (SPEC D2): a weekly schedule plus dated exceptions, in the shop's time zone.

Pure code over the ``business_hours`` setting of API.md::

    {"weekly": [{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}, ...],
     "exceptions": [{"date": "YYYY-MM-DD", "closed": bool, "start"?: "HH:MM", "end"?: "HH:MM"}]}

``weekday`` 0 is Monday (as Python's ``date.weekday()``). A day may have several slots. An
exception replaces the weekly slots of its date: closed all day, or open only from ``start`` to
``end`` (several open entries for one date add up). Times are wall-clock times in the shop's
zone; ``24:00`` as an end means the end of the day. Times are stored in UTC and converted here,
at the edge (DESIGN, timers). Business hours only choose the D2 reply; routing ignores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

Slot = tuple[int, int]  # minutes since local midnight: [start, end)

# How far back `closed_since` looks for the end of the last opening.
LOOKBACK_DAYS = 15


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def _slots(entries: list[Mapping[str, Any]]) -> tuple[Slot, ...]:
    return tuple(sorted((minutes(e["start"]), minutes(e["end"])) for e in entries))


@dataclass(frozen=True)
class Schedule:
    weekly: dict[int, tuple[Slot, ...]] = field(default_factory=dict)
    exceptions: dict[date, tuple[Slot, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Schedule:
        weekly: dict[int, list[Mapping[str, Any]]] = {}
        for slot in data.get("weekly") or []:
            weekly.setdefault(int(slot["weekday"]), []).append(slot)
        exceptions: dict[date, list[Mapping[str, Any]]] = {}
        for entry in data.get("exceptions") or []:
            day = date.fromisoformat(str(entry["date"]))
            opened = exceptions.setdefault(day, [])
            if not entry.get("closed") and entry.get("start") and entry.get("end"):
                opened.append(entry)
        return cls(
            weekly={d: _slots(s) for d, s in weekly.items()},
            exceptions={d: _slots(s) for d, s in exceptions.items()},
        )

    def slots(self, day: date) -> tuple[Slot, ...]:
        """The opening slots of one local calendar day."""
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(day.weekday(), ())


def _local_seconds(local: datetime) -> int:
    return local.hour * 3600 + local.minute * 60 + local.second


def is_open(schedule: Schedule, zone: ZoneInfo, now: datetime) -> bool:
    local = now.astimezone(zone)
    second = _local_seconds(local)
    return any(start * 60 <= second < end * 60 for start, end in schedule.slots(local.date()))


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute)


def closed_since(schedule: Schedule, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the closed stretch ``now`` falls in began: the end of the last opening (looking back
    ``LOOKBACK_DAYS``), else the start of the local day. None while the shop is open."""
    if is_open(schedule, zone, now):
        return None
    local = now.astimezone(zone)
    second = _local_seconds(local)
    for back in range(LOOKBACK_DAYS + 1):
        day = local.date() - timedelta(days=back)
        ends = [end for _start, end in schedule.slots(day) if back or end * 60 <= second]
        if ends:
            return _at(day, max(ends), zone)
    return _at(local.date(), 0, zone)


def next_opening(schedule: Schedule, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the shop next opens after ``now`` (looking ``LOOKBACK_DAYS`` ahead), in shop time;
    None when it does not within that."""
    local = now.astimezone(zone)
    for ahead in range(LOOKBACK_DAYS + 1):
        day = local.date() + timedelta(days=ahead)
        for start, _end in schedule.slots(day):
            opening = _at(day, start, zone)
            if opening > local:
                return opening
    return None


def problems(data: Mapping[str, Any]) -> list[str]:
    """What is wrong with an already well-formed ``business_hours`` value (the serializer checks
    the shapes and that each start comes before its end): ``24:00`` only as an end, no
    overlapping slots in one day, no exception date both closed and open."""
    from django.utils.translation import gettext as _

    found: list[str] = []
    for entry in [*(data.get("weekly") or []), *(data.get("exceptions") or [])]:
        if str(entry.get("start", "")).startswith("24") or (
            str(entry.get("end", "")).startswith("24") and entry.get("end") != "24:00"
        ):
            found.append(_("24:00 is the latest time, and only as an end."))
            return found
    days: dict[int, list[Mapping[str, Any]]] = {}
    for slot in data.get("weekly") or []:
        days.setdefault(int(slot["weekday"]), []).append(slot)
    for weekday, slots in sorted(days.items()):
        if _overlap(_slots(slots)):
            found.append(_("The hours of weekday %(day)d overlap.") % {"day": weekday})
    dates: dict[str, list[Mapping[str, Any]]] = {}
    for entry in data.get("exceptions") or []:
        dates.setdefault(str(entry["date"]), []).append(entry)
    for day, entries in sorted(dates.items()):
        closed = [e for e in entries if e.get("closed")]
        if closed and len(entries) > 1:
            found.append(_("%(date)s is listed as closed and with hours.") % {"date": day})
        elif not closed and _overlap(_slots(entries)):
            found.append(_("The hours of %(date)s overlap.") % {"date": day})
    return found


def _overlap(slots: tuple[Slot, ...]) -> bool:
    return any(later[0] < earlier[1] for earlier, later in pairwise(slots))
