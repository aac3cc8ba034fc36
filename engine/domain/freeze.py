"""The Freeze aggregate (stream ``freeze:<app>:<env>``): when freeze windows began and ended.

Where it sits: freeze windows are schedules of an environment's policy
(``engine.domain.policy``), not events, so nothing in the log would say a freeze began.
The freeze clock (``engine.freeze_clock``) compares each environment's policy with this
record on every tick and settles the difference: ``Started`` (the window, when its
occurrence began and when it ends) and ``Ended`` (the window, when). An occurrence is
known by its window and its start, both derived from the schedule, so several processes
that settle the same change record it once: the second finds it recorded and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain.ids import freeze_stream, stream_uuid
from engine.domain.policy import FreezeWindow
from engine.domain.vocabulary import EventType


@dataclass(frozen=True, kw_only=True)
class Occurrence:
    """One occurrence of a freeze window: its name, when it began and when it ends."""

    window: str
    started_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, found: tuple[FreezeWindow, datetime] | None) -> Occurrence | None:
        """The occurrence `Policy.frozen_at` found (its window and end), or None."""
        if found is None:
            return None
        window, ends_at = found
        return cls(window=window.name, started_at=ends_at - window.duration, ends_at=ends_at)


class Freeze(Aggregate):
    """The freeze windows of one app in one environment, as they began and ended."""

    @staticmethod
    def create_id(app: str, environment: str) -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(freeze_stream(app, environment))

    @event(EventType.FREEZE_CREATED.event)
    def __init__(self, app: str, environment: str) -> None:
        """An environment's freeze stream was started (at its first freeze)."""
        self.app = app
        self.environment = environment
        self.window: str | None = None  # the window in force, if one is
        self.started_at: datetime | None = None
        self.ends_at: datetime | None = None

    @property
    def stream_id(self) -> str:
        """`freeze:<app>:<env>`."""
        return freeze_stream(self.app, self.environment)

    @property
    def current(self) -> Occurrence | None:
        """The occurrence recorded as in force, or None."""
        if self.window is None or self.started_at is None or self.ends_at is None:
            return None
        return Occurrence(window=self.window, started_at=self.started_at, ends_at=self.ends_at)

    def settle(self, active: Occurrence | None, *, now: datetime) -> bool:
        """Record that `active` is the occurrence in force at `now` (None: none is).

        The one in force before, if another, ends first (at its end, or at `now` when the
        config took it away early). False when this is what is recorded already.
        """
        current = self.current
        if current == active:
            return False
        if current is not None:
            self._ended(window=current.window, at=min(now, current.ends_at))
        if active is not None:
            self._started(
                window=active.window, started_at=active.started_at, ends_at=active.ends_at
            )
        return True

    @event(EventType.FREEZE_STARTED.event)
    def _started(self, window: str, started_at: datetime, ends_at: datetime) -> None:
        """A freeze window began: promotions into the environment are refused until `ends_at`."""
        self.window, self.started_at, self.ends_at = window, started_at, ends_at

    @event(EventType.FREEZE_ENDED.event)
    def _ended(self, window: str, at: datetime) -> None:
        """The freeze window ended: promotions into the environment are allowed again."""
        self.window = self.started_at = self.ends_at = None
