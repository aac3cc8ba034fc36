"""Environment policy: the rules a promotion into one environment must respect.

Where it sits: built by the environments config loader (``engine.config``) from
``environments/*.yaml``; read by the promotion guard, which calls :func:`is_frozen`
before it lets a release in. Pure: no I/O, the clock is always passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.rrule import rrulestr

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


class FreezeKind(StrEnum):
    """How a freeze window's start times are written."""

    CRON = "cron"
    RRULE = "rrule"

    def is_cron(self) -> bool:
        """True for a cron expression."""
        return self is FreezeKind.CRON


def parse_duration(text: str) -> timedelta:
    """Turn ``"10m"``, ``"30s"``, ``"1h30m"`` or ``"2d"`` into a timedelta.

    Raises ValueError naming the text when it is not a duration.
    """
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 10m, 1h30m, 2d)")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration`, for diffs and messages."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True, slots=True, kw_only=True)
class FreezeWindow:
    """A recurring period during which nothing is promoted into the environment."""

    kind: FreezeKind
    expression: str
    duration: timedelta
    timezone: str = "UTC"

    def check(self) -> None:
        """Raise ValueError if the expression, duration or timezone cannot be used."""
        if self.duration <= timedelta(0):
            raise ValueError(f"duration must be positive, got {format_duration(self.duration)}")
        ZoneInfo(self.timezone)  # raises on an unknown zone
        if self.kind.is_cron():
            if not croniter.is_valid(self.expression):
                raise ValueError(f"{self.expression!r} is not a cron expression")
        else:
            rrulestr(self.expression, dtstart=datetime(2000, 1, 1, tzinfo=UTC))

    def last_start(self, at: datetime) -> datetime | None:
        """The latest start of this window at or before ``at`` (None if it never started)."""
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        if self.kind.is_cron():
            # croniter's get_prev is strict; nudge by a second so a start at ``at`` counts.
            itr = croniter(self.expression, local + timedelta(seconds=1))
            start: datetime = itr.get_prev(datetime)
            return start
        # The rule repeats from a midnight far enough back that a window opened before
        # ``at`` is always found; times of day come from BYHOUR/BYMINUTE (default 00:00).
        origin = (local - self.duration - timedelta(days=400)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        rule = rrulestr(self.expression, dtstart=origin)
        found: datetime | None = rule.before(local, inc=True)
        return found

    def active_at(self, at: datetime) -> bool:
        """True when ``at`` falls inside an occurrence of this window."""
        start = self.last_start(at)
        return start is not None and start <= at < start + self.duration


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What a promotion into one environment needs before it may start."""

    auto_promote: bool = False
    approvals: int = 0
    soak: timedelta = timedelta(0)
    freeze: tuple[FreezeWindow, ...] = field(default=())
    auto_rollback: bool = False
    self_heal: bool = True


def is_frozen(policy: Policy, at: datetime) -> FreezeWindow | None:
    """The freeze window of ``policy`` that covers ``at``, or None when promotions may run.

    ``at`` must be timezone-aware: a naive time would silently mean the machine's zone.
    """
    if at.tzinfo is None:
        raise ValueError("is_frozen needs a timezone-aware datetime")
    for window in policy.freeze:
        if window.active_at(at):
            return window
    return None
