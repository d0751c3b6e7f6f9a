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


def resumed(
    held_at: datetime, due_at: datetime, now: datetime, unit: str, timezone: str, calendar: str
) -> datetime:
    """The due time of a task held at `held_at` and resumed `now`: a stopped clock stops in
    the deadline's own unit. What was left at the hold (business days, calendar days, months,
    or elapsed hours) is counted again from the resume in the protocol's calendar, at the
    deadline's local time of day; a business-day deadline never lands on a non-business day.
    Held on its last day, a task keeps the time it had left that day.
    """
    same_time_left = (due_at + (now - held_at)).astimezone(UTC)
    if unit == "hours":
        return same_time_left
    zone = ZoneInfo(timezone)
    held, due, back = (t.astimezone(zone) for t in (held_at, due_at, now))
    if unit == "months":
        day = back.date() + relativedelta(due.date(), held.date())
    elif unit == "calendar_days":
        day = back.date() + (due.date() - held.date())
    else:  # business_days left: those after the hold's day, up to the due day
        left = sum(
            is_business_day(held.date() + timedelta(days=n), calendar)
            for n in range(1, (due.date() - held.date()).days + 1)
        )
        day = back.date()
        while left:
            day += timedelta(days=1)
            left -= is_business_day(day, calendar)
        while not is_business_day(day, calendar):
            day += timedelta(days=1)
    wall = datetime.combine(day, due.time().replace(tzinfo=None))
    counted = wall.replace(tzinfo=zone).astimezone(UTC)
    return counted if counted > now else same_time_left
