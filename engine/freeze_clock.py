"""The freeze clock: records in the log when freeze windows begin and end.

Where it sits: on the worker role's supervisor, beside the notifier (``baton.service``).
Freeze windows are schedules of each environment's policy (``engine.domain.policy``);
on each tick the clock asks every app environment's policy which window is in force now
(``Policy.frozen_at``) and settles the difference with what its ``freeze:<app>:<env>``
stream records (``engine.domain.freeze``): ``Freeze.Started`` / ``Freeze.Ended``, which
the notifier tells as ``freeze-started`` / ``freeze-ended``. It ticks every `interval`
seconds, at the end of a window in force when that comes sooner, and on a config reload.
Every worker process runs one: an occurrence is recorded once however many settle it (a
lost race is read again and found done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.backoff import retry
from engine.config.loader import EnvironmentsConfig
from engine.domain.freeze import Freeze, Occurrence
from engine.domain.ids import freeze_stream
from engine.domain.pipeline import AppSpec
from engine.repository import Repository
from engine.store import ConcurrencyError, EventMetadata, EventStore

log = logging.getLogger(__name__)
ACTOR = "freeze-clock"
INTERVAL_S = 10.0
#: a tick at a window's end is a hair after it: the end itself is outside the window
_PAST_THE_END = timedelta(milliseconds=10)


@dataclass(frozen=True, kw_only=True)
class Settled:
    """A change the clock recorded: an environment's window in force now (None: none)."""

    app: str
    environment: str
    active: Occurrence | None


class FreezeClock:
    """Records the starts and ends of every app environment's freeze windows."""

    def __init__(
        self, *, store: EventStore, apps: tuple[AppSpec, ...], interval: float = INTERVAL_S
    ) -> None:
        self.repository = Repository(store)
        self.apps = apps
        self.interval = interval
        self._soonest_end: datetime | None = None  # of the windows in force at the last tick
        self._reconfigured = asyncio.Event()
        # the first tick, and the first after a reload, looks at every environment: one
        # whose windows were taken out may still be recorded frozen; later ticks look only
        # at environments with windows (the rest would cost a read each, every tick)
        self._every_environment = True

    async def run(self) -> None:
        """Tick until cancelled: every `interval`, or at the end of a window when sooner."""
        while True:
            now = datetime.now(UTC)
            await self.tick(now)
            wait = timedelta(seconds=self.interval)
            if self._soonest_end is not None:
                wait = min(wait, self._soonest_end - now + _PAST_THE_END)
            with contextlib.suppress(TimeoutError):  # a reload ticks at once
                await asyncio.wait_for(self._reconfigured.wait(), max(wait.total_seconds(), 0.0))
            self._reconfigured.clear()

    async def reconfigure(self, config: EnvironmentsConfig) -> None:
        """Take a reloaded config's apps, and tick with them at once."""
        self.apps = config.apps
        self._every_environment = True
        self._reconfigured.set()

    async def tick(self, now: datetime) -> list[Settled]:
        """Settle every app environment's freeze at `now`; the changes recorded."""
        changes, ends = [], []
        every = self._every_environment
        for app in self.apps:
            for environment in app.environments:
                if not (every or environment.policy.freeze):
                    continue
                active = Occurrence.of(environment.policy.frozen_at(now))
                if active is not None:
                    ends.append(active.ends_at)
                if await self.settle(app.name, environment.name, active, now=now):
                    changes.append(
                        Settled(app=app.name, environment=environment.name, active=active)
                    )
        self._soonest_end = min(ends, default=None)
        if every:  # a tick that failed half-way looks at every environment again
            self._every_environment = False
        return changes

    async def settle(
        self, app: str, environment: str, active: Occurrence | None, *, now: datetime
    ) -> bool:
        """Record `active` as the window in force; False when it is recorded already."""
        stream = freeze_stream(app, environment)

        async def once() -> bool:
            freeze = await self.repository.find(Freeze, stream)
            if freeze is None:
                if active is None:
                    return False  # never frozen: nothing to record
                freeze = Freeze(app=app, environment=environment)
            if not freeze.settle(active, now=now):
                return False
            await self.repository.save(freeze, metadata=EventMetadata(actor=ACTOR))
            return True

        changed = await retry(once, attempts=5, on=ConcurrencyError)
        if changed:
            log.info("freeze clock: %s/%s now %s", app, environment, _describe(active))
        return changed


def _describe(active: Occurrence | None) -> str:
    if active is None:
        return "unfrozen"
    return f"frozen by {active.window} until {active.ends_at.isoformat()}"


def build_freeze_clock(*, store: EventStore, config: EnvironmentsConfig) -> FreezeClock:
    """The freeze clock as the server runs it."""
    return FreezeClock(store=store, apps=config.apps)
