"""Environment policies: approvals, soak, auto-promotion, freeze windows. Pure functions.

A freeze window is a schedule (an iCalendar RRULE or a five-field cron expression) of
start times, each opening a window of `duration`. Schedules are read in the window's
`timezone` (default UTC), so "Friday 18:00 in Berlin" stays right across DST changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from dateutil.rrule import rrulestr
from pydantic import BeforeValidator, PlainSerializer

_DURATION = re.compile(
    r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?"
    r"\s*(?:(\d+)ms)?\s*$"
)
# RRULEs without a DTSTART count from here; BYHOUR/BYMINUTE give the real start times
_RRULE_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)


def parse_duration(text: str) -> timedelta:
    """'90s', '0.5s', '250ms', '10m', '1h30m', '2d' → timedelta; ValueError naming the text."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 1h30m or 2d")
    days, hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds, milliseconds=millis)


def format_duration(value: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``"1h30m"``: the form the config is written in."""
    millis = round(value.total_seconds() * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _duration_of(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


#: a duration read from its text ('10m') and written back as text, wherever the config holds one
Duration = Annotated[
    timedelta, BeforeValidator(_duration_of), PlainSerializer(format_duration, when_used="json")
]


@dataclass(frozen=True, kw_only=True)
class FreezeWindow:
    """A recurring period in which promotions into an environment are refused."""

    name: str
    schedule: str
    duration: Duration
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError(f"freeze window {self.name!r}: duration must be positive")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"freeze window {self.name!r}: {self.timezone!r} is not a time zone"
            ) from None
        self._last_start(datetime.now(UTC))  # fail early on a bad schedule

    @property
    def is_cron(self) -> bool:
        """True for a cron expression, False for an RRULE."""
        return "FREQ=" not in self.schedule.upper()

    def _last_start(self, at: datetime) -> datetime | None:
        zone = ZoneInfo(self.timezone)
        at = at.astimezone(zone)
        if self.is_cron:
            if not croniter.is_valid(self.schedule):
                raise ValueError(f"freeze window {self.name!r}: {self.schedule!r} is not cron")
            # croniter's previous start is strictly before the time it is given: a microsecond
            # on, a start at `at` itself counts (a second on, a start within the next second
            # would, and `at` would be outside every window for that second)
            start: datetime = croniter(self.schedule, at + timedelta(microseconds=1)).get_prev(
                datetime
            )
            return start
        try:
            rule = rrulestr(self.schedule, dtstart=_RRULE_EPOCH.replace(tzinfo=zone))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"freeze window {self.name!r}: {self.schedule!r} is not an RRULE: {exc}"
            ) from None
        last: datetime | None = rule.before(at, inc=True)
        return last

    def active_until(self, at: datetime) -> datetime | None:
        """The end of the window that covers `at`, or None when `at` is outside it."""
        start = self._last_start(at)
        if start is None:
            return None
        end = start + self.duration
        return end if start <= at < end else None


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What an environment allows."""

    auto_promote: bool = False
    approvals: int = 0
    soak: Duration = timedelta(0)
    freeze: tuple[FreezeWindow, ...] = field(default_factory=tuple)
    auto_rollback: bool = False
    self_heal: bool = True

    def __post_init__(self) -> None:
        if self.approvals < 0:
            raise ValueError(f"approvals must be 0 or more, got {self.approvals}")
        if self.soak < timedelta(0):
            raise ValueError("soak must not be negative")

    def frozen_at(self, at: datetime) -> tuple[FreezeWindow, datetime] | None:
        """The active freeze window at `at` and when it ends, or None."""
        for window in self.freeze:
            until = window.active_until(at)
            if until is not None:
                return window, until
        return None


def is_frozen(policy: Policy, at: datetime) -> FreezeWindow | None:
    """The freeze window of `policy` covering `at` (timezone-aware), or None."""
    if at.tzinfo is None:
        raise ValueError("is_frozen needs a timezone-aware datetime")
    found = policy.frozen_at(at)
    return found[0] if found else None
