"""Working time: answer deadlines run on working days only, so that a question asked on a
Friday evening is not escalated to more people on Sunday, before anyone could have read it,
and the people it was relayed to keep their weekends and holidays."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class CalendarError(ValueError):
    """A part of the working calendar (`part`: working_days, holidays or time_zone) that
    cannot be read, and what it must be."""

    def __init__(self, part: str, message: str):
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class WorkingCalendar:
    """The organisation's working days: week days, holidays, and the time zone whose
    midnights begin and end them."""

    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    holidays: frozenset[date] = frozenset()
    zone: tzinfo = timezone.utc

    def __post_init__(self):
        if not self.weekdays:  # time would never pass
            raise CalendarError("working_days", "must name at least one day")

    @classmethod
    def parse(cls, working_days: str, holidays: str, time_zone: str) -> "WorkingCalendar":
        """From settings' text: "mon,tue,wed,thu,fri", "2026-12-25,2027-01-01", "Europe/Paris"
        (raises CalendarError naming what it cannot read)."""
        names = [d.strip().lower() for d in working_days.split(",") if d.strip()]
        if not names or any(n not in DAY_NAMES and n not in _FULL_NAMES for n in names):
            raise CalendarError("working_days", f"must be some of {', '.join(DAY_NAMES)}, "
                                f"comma-separated, not {working_days!r}")
        days_off = set()
        for text in (h.strip() for h in holidays.split(",") if h.strip()):
            try:
                days_off.add(date.fromisoformat(text))
            except ValueError:
                raise CalendarError("holidays", f"must be dates like 2026-12-25, not {text!r}") \
                    from None
        try:  # UTC needs no time zone database (a bare system may have none)
            zone = timezone.utc if time_zone.strip() == "UTC" else ZoneInfo(time_zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError("time_zone", f"must be a name like Europe/Paris, not "
                                             f"{time_zone!r}") from None
        days = frozenset(DAY_NAMES.index(n) if n in DAY_NAMES else _FULL_NAMES.index(n)
                         for n in names)
        return cls(days, frozenset(days_off), zone)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` after `start`, counting only the time of working days (from
        midnight to midnight where the organisation is). From a day off, the count begins
        at the next working day's midnight. Hours are elapsed hours, across clock changes."""
        remaining = timedelta(hours=hours)
        moment = start.astimezone(timezone.utc)
        while True:
            local_day = moment.astimezone(self.zone).date()
            day_ends = datetime.combine(local_day + timedelta(days=1), time(0),
                                        tzinfo=self.zone).astimezone(timezone.utc)
            if self.is_working_day(local_day):
                if remaining <= day_ends - moment:
                    return moment + remaining
                remaining -= day_ends - moment
            moment = day_ends
