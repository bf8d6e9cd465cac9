"""Schedules like ``weekly mon 08:00`` or ``daily 07:00`` in a time zone, and their latest slot.

A daemon asks for the latest slot at or before now and compares it with the last slot it served (kept in
the store): a daemon that was down over several slots sees only the latest one, so a missed digest is sent
once on start, never once per missed slot. Times are wall-clock times in the zone, so 08:00 stays 08:00
across daylight-saving changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FORM = re.compile(r"^(daily|weekly\s+(mon|tue|wed|thu|fri|sat|sun))\s+([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be read."""


@dataclass(frozen=True)
class Schedule:
    weekday: int | None  # 0 = Monday; None: every day
    at: time
    zone: ZoneInfo

    @property
    def period_days(self) -> int:
        return 1 if self.weekday is None else 7

    def latest_slot(self, now: datetime) -> datetime:
        """The most recent slot at or before now (aware), in UTC."""
        local_day = now.astimezone(self.zone).date()
        for back in range(9):
            day = local_day - timedelta(days=back)
            if self.weekday is not None and day.weekday() != self.weekday:
                continue
            slot = self.slot_on(day)
            if slot <= now:
                return slot
        raise AssertionError("a slot is at most 8 days back")  # unreachable: one week holds every weekday

    def slot_on(self, day: date) -> datetime:
        return datetime.combine(day, self.at, tzinfo=self.zone).astimezone(UTC)

    def describe(self) -> str:
        when = "daily" if self.weekday is None else f"weekly {WEEKDAYS[self.weekday]}"
        return f"{when} {self.at.strftime('%H:%M')} {self.zone.key}"


def parse_schedule(text: str, zone_name: str = "UTC") -> Schedule:
    match = _FORM.match(" ".join(text.strip().lower().split()))
    if not match:
        raise ScheduleError(f'{text!r} is not a schedule (use e.g. "weekly mon 08:00" or "daily 07:00")')
    weekday = WEEKDAYS.index(match.group(2)) if match.group(2) else None
    return Schedule(weekday, time(int(match.group(3)), int(match.group(4))), parse_zone(zone_name))


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not a time zone (use an IANA name, e.g. Europe/Berlin or UTC)") from None
