"""Clocks: the system one, and a settable one for tests and replays."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


class SystemClock:
    """The machine's time in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None):
        self.current = start or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta) -> None:
        self.current += timedelta(**delta)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with seconds, so stored times sort as strings."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime | None:
    """A stored ISO time as an aware datetime (UTC when no zone is given), or None."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
