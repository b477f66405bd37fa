"""Answer deadlines count working days only: weekends, holidays and the organisation's time
zone."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from chalicelib.worktime import CalendarError, WorkingCalendar

UTC = timezone.utc
WEEKDAYS = WorkingCalendar()  # Monday to Friday, in UTC


def at(day: int, hour: int = 0, minute: int = 0, month: int = 1) -> datetime:
    """A moment of 2026, in UTC (1 January 2026 is a Thursday; the 9th a Friday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize("start,hours,due", [
    (at(5, 9), 48, at(7, 9)),  # Monday morning: two days later, nothing skipped
    (at(9, 17), 48, at(13, 17)),  # Friday evening: the weekend does not count
    (at(9, 17), 7, at(10, 0)),  # the rest of Friday, exactly
    (at(9, 17), 8, at(12, 1)),  # one hour more: Monday, 1 a.m.
    (at(10, 15), 24, at(13, 0)),  # from a Saturday, the count begins on Monday
    (at(11, 23, 59), 0.5, at(12, 0, 30)),
])
def test_deadlines_skip_the_days_off(start, hours, due):
    assert WEEKDAYS.add_working_hours(start, hours) == due


def test_every_day_working_is_plain_elapsed_time():
    every_day = WorkingCalendar.parse("mon,tue,wed,thu,fri,sat,sun", "", "UTC")
    for start in (at(9, 17), at(10, 3), at(11, 23, 59)):
        assert every_day.add_working_hours(start, 48) == start + timedelta(hours=48)


def test_holidays_are_days_off():
    calendar = WorkingCalendar.parse("mon,tue,wed,thu,fri", "2026-01-12, 2026-01-13", "UTC")
    assert calendar.add_working_hours(at(9, 17), 48) == at(15, 17)  # Fri -> Thu, two off
    assert not calendar.is_working_day(date(2026, 1, 12))
    assert calendar.is_working_day(date(2026, 1, 14))


def test_days_begin_and_end_where_the_organisation_is():
    paris = WorkingCalendar.parse("mon,tue,wed,thu,fri", "", "Europe/Paris")
    # Friday 23:30 in London is Saturday 00:30 in Paris: the weekend has begun there.
    friday_night = at(9, 23, 30)
    assert paris.add_working_hours(friday_night, 1) == at(11, 23, 0) + timedelta(hours=1)
    # ...while in UTC, half an hour of Friday is left.
    assert WEEKDAYS.add_working_hours(friday_night, 1) == at(12, 0, 30)
    tokyo = WorkingCalendar.parse("mon,tue,wed,thu,fri", "", "Asia/Tokyo")
    # Sunday 20:00 UTC is Monday 05:00 in Tokyo: working time already.
    assert tokyo.add_working_hours(at(11, 20), 2) == at(11, 22)


def test_hours_are_elapsed_hours_across_a_clock_change():
    paris = WorkingCalendar.parse("mon,tue,wed,thu,fri,sat,sun", "", "Europe/Paris")
    # Clocks went forward on 29 March 2026: that day lasted 23 hours.
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert paris.add_working_hours(start, 30) == start + timedelta(hours=30)
    weekdays = WorkingCalendar.parse("mon,tue,wed,thu,fri", "", "Europe/Paris")
    # Friday 27 March, 22:00 in Paris (21:00 UTC): two hours of Friday, then Monday 00:00
    # Paris, which is 22:00 UTC on Sunday after the change.
    friday = datetime(2026, 3, 27, 21, tzinfo=UTC)
    assert weekdays.add_working_hours(friday, 3) == datetime(2026, 3, 29, 23, tzinfo=UTC)


@pytest.mark.parametrize("days,expected", [
    ("mon,tue,wed,thu,fri", {0, 1, 2, 3, 4}),
    (" Sunday , MON,thu ", {6, 0, 3}),
    ("mon,monday", {0}),
])
def test_working_days_are_read_by_short_or_full_name(days, expected):
    assert WorkingCalendar.parse(days, "", "UTC").weekdays == expected


@pytest.mark.parametrize("days,holidays,zone,part", [
    ("", "", "UTC", "working_days"),
    (" , ", "", "UTC", "working_days"),
    ("mon,funday", "", "UTC", "working_days"),
    ("monkey", "", "UTC", "working_days"),
    ("mon", "2026-02-30", "UTC", "holidays"),
    ("mon", "christmas", "UTC", "holidays"),
    ("mon", "", "Mars/Olympus", "time_zone"),
    ("mon", "", "", "time_zone"),
    ("mon", "", "../etc/passwd", "time_zone"),
])
def test_a_calendar_that_cannot_be_read_says_which_part(days, holidays, zone, part):
    with pytest.raises(CalendarError) as refused:
        WorkingCalendar.parse(days, holidays, zone)
    assert refused.value.part == part


def test_a_calendar_without_working_days_is_refused():
    with pytest.raises(CalendarError):
        WorkingCalendar(weekdays=frozenset())
