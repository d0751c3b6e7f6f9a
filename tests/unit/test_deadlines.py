"""Deadline arithmetic in the protocol's time zone and calendar."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.schema import parse_duration
from workflows.domain.deadlines import add, is_business_day, resumed

BOGOTA = ZoneInfo("America/Bogota")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_business_day_deadline_skips_a_colombian_public_holiday():
    # Friday 20 March 2026, 10:00 in Bogota; Monday 23 March is San José (a holiday).
    due = add(
        at("2026-03-20T10:00:00-05:00"), parse_duration("1 business_days"), "America/Bogota", "CO"
    )
    assert due == at("2026-03-24T10:00:00-05:00")
    assert due.tzinfo == UTC
    assert due.hour == 15


def test_business_days_skip_holy_week_and_the_weekend():
    # Wednesday 1 April 2026 + 2 business days: Thu 2 and Fri 3 are holidays, then a weekend.
    due = add(
        at("2026-04-01T16:30:00-05:00"), parse_duration("2 business_days"), "America/Bogota", "CO"
    )
    assert due.astimezone(BOGOTA) == at("2026-04-07T16:30:00-05:00")


def test_calendar_days_keep_local_time_across_a_dst_change():
    # New York moves to summer time on 8 March 2026: 09:00 stays 09:00, one hour less elapses.
    start = at("2026-03-06T09:00:00-05:00")
    due = add(start, parse_duration("5 calendar_days"), "America/New_York", "US")
    assert due == at("2026-03-11T09:00:00-04:00")


def test_immediate_assistance_is_five_calendar_days_not_business_days():
    due = add(
        at("2026-03-20T10:00:00-05:00"), parse_duration("5 calendar_days"), "America/Bogota", "CO"
    )
    assert due == at("2026-03-25T10:00:00-05:00")


def test_hours_are_elapsed_time():
    due = add(at("2026-03-20T22:00:00-05:00"), parse_duration("24 hours"), "America/Bogota", "CO")
    assert due - at("2026-03-20T22:00:00-05:00") == timedelta(hours=24)


def test_months_keep_the_day_or_clamp_to_month_end():
    due = add(at("2026-08-31T09:00:00-05:00"), parse_duration("6 months"), "America/Bogota", "CO")
    assert due == at("2027-02-28T09:00:00-05:00")


def test_naive_start_is_refused():
    with pytest.raises(ValueError, match="aware"):
        add(datetime(2026, 3, 2, 9), parse_duration("1 hours"), "America/Bogota", "CO")


@pytest.mark.parametrize("bad", ["5 days", "five calendar_days", "0 hours", "-1 hours", "5", ""])
def test_malformed_durations_name_the_allowed_units(bad):
    with pytest.raises(ValueError, match="calendar_days"):
        parse_duration(bad)


@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.just(BOGOTA),
    ),
    n=st.integers(min_value=1, max_value=30),
)
def test_business_day_deadlines_land_on_a_business_day_at_the_same_local_time(start, n):
    due = add(start, parse_duration(f"{n} business_days"), "America/Bogota", "CO").astimezone(
        BOGOTA
    )
    assert is_business_day(due.date(), "CO")
    assert due.time() == start.time()
    business = sum(
        is_business_day(start.date() + timedelta(days=d), "CO")
        for d in range(1, (due.date() - start.date()).days + 1)
    )
    assert business == n


def test_a_hold_stops_a_business_day_clock_in_business_days():
    # due Thursday 12 November; held Friday 30 October, resumed Tuesday 3 November (Monday 2
    # November is a holiday): 8 business days were left, so it is due Friday 13 November,
    # not Monday 16 November (a holiday) as 96 elapsed hours would make it
    due = at("2026-11-12T09:00:00-05:00")
    new = resumed(
        at("2026-10-30T10:00:00-05:00"),
        due,
        at("2026-11-03T10:00:00-05:00"),
        "business_days",
        "America/Bogota",
        "CO",
    )
    assert new == at("2026-11-13T09:00:00-05:00")


def test_a_hold_stops_calendar_days_and_hours_in_their_own_units():
    held, back = at("2026-03-02T10:00:00-05:00"), at("2026-03-04T15:00:00-05:00")
    due = at("2026-03-07T09:00:00-05:00")
    assert resumed(held, due, back, "calendar_days", "America/Bogota", "CO") == at(
        "2026-03-09T09:00:00-05:00"
    )
    assert resumed(held, due, back, "hours", "America/Bogota", "CO") == due + (back - held)


@given(st.integers(0, 60), st.integers(1, 20), st.integers(0, 30), st.integers(0, 23))
def test_a_resumed_business_day_deadline_never_lands_on_a_non_business_day(
    start, left, paused, hour
):
    held = at("2026-01-01T00:00:00-05:00") + timedelta(days=start, hours=hour)
    due = add(held, parse_duration(f"{left} business_days"), "America/Bogota", "CO")
    back = held + timedelta(days=paused, hours=1)
    new = resumed(held, due, back, "business_days", "America/Bogota", "CO")
    assert new > back or new == due + (back - held)
    if new != due + (back - held):
        assert is_business_day(new.astimezone(BOGOTA).date(), "CO")
