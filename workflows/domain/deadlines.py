"""Deadline arithmetic: hours, calendar days, business days and months, in a protocol's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

from protocols.schema import Duration


@cache
def _calendar(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def is_business_day(day: date, calendar: str) -> bool:
    """Monday to Friday and not a public holiday of the calendar's country."""
    return day.weekday() < 5 and day not in _calendar(calendar)


def add(start: datetime, duration: Duration, timezone: str, calendar: str) -> datetime:
    """The instant `duration` after `start`, in UTC.

    Hours are elapsed time. Calendar days, business days and months keep the local time of
    day in the protocol's time zone (so a deadline set at 09:00 in Bogota falls at 09:00);
    business days skip weekends and the calendar's public holidays.
    """
    return _shift(start, duration, timezone, calendar, 1)


def before(end: datetime, duration: Duration, timezone: str, calendar: str) -> datetime:
    """The instant `duration` before `end` (a reminder "4 hours" or "1 business_days" before)."""
    return _shift(end, duration, timezone, calendar, -1)


def _shift(
    start: datetime, duration: Duration, timezone: str, calendar: str, sign: int
) -> datetime:
    if start.tzinfo is None:
        raise ValueError(
            "Deadline arithmetic needs an aware datetime (with a UTC offset); take the time "
            "from the injected Clock, which gives aware UTC."
        )
    if duration.unit == "hours":
        return (start + sign * timedelta(hours=duration.amount)).astimezone(UTC)
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    day = local.date()
    if duration.unit == "calendar_days":
        day += sign * timedelta(days=duration.amount)
    elif duration.unit == "months":
        day += relativedelta(months=sign * duration.amount)
    elif duration.unit == "business_days":
        remaining = duration.amount
        while remaining:
            day += sign * timedelta(days=1)
            if is_business_day(day, calendar):
                remaining -= 1
    else:  # the schema only admits the units above
        raise ValueError(
            f"Unknown duration unit {duration.unit!r}; use hours, calendar_days, business_days "
            "or months."
        )
    wall = datetime.combine(day, local.time().replace(tzinfo=None))
    return wall.replace(tzinfo=zone).astimezone(UTC)
