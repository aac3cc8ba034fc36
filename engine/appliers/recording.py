"""A target's stream as its worker sees it: the aggregate, read incrementally, and
commands recorded on it, each append fenced by the target's lock.

Where it sits: the base of ``worker.TargetWorker`` (which observes, decides and acts);
this part reads and writes the event log, nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from engine.appliers.context import APPLIER_ACTOR, WorkerContext
from engine.appliers.tracing import with_active_trace
from engine.backoff import retry
from engine.codec import to_domain_event
from engine.domain.ids import target_stream
from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.target import Target
from engine.domain.vocabulary import EventType
from engine.store import ConcurrencyError, EventMetadata, RecordedEvent

T = TypeVar("T")
_ATTEMPTS = 5


class TargetRecorder:
    """Reads one target's stream and records commands on it."""

    def __init__(self, ctx: WorkerContext, app: AppSpec, environment: EnvironmentSpec) -> None:
        self.ctx = ctx
        self.app = app
        self.env = environment
        self.name = f"{app.name}/{environment.name}"
        self.stream = target_stream(app.name, environment.name)
        self._target: Target | None = None
        self._version = 0
        self._cause: RecordedEvent | None = None  # the PromotionStarted we act upon

    async def _load(self) -> Target | None:
        """Bring the cached aggregate up to date with its stream (no query when the log
        subscription has seen nothing newer; a stale view ends in a ConcurrencyError)."""
        if self._target is not None and self.ctx.heads.get(self.stream, 0) <= self._version:
            return self._target
        events = await asyncio.wait_for(
            self.ctx.store.read_stream(self.stream, after_version=self._version),
            timeout=self.ctx.settings.store_timeout,
        )
        for recorded in events:
            event = to_domain_event(self.ctx.repository.registry, recorded)
            self._target = event.mutate(self._target)
            if recorded.type == EventType.PROMOTION_STARTED:
                self._cause = recorded
            self._version = recorded.stream_version
        return self._target

    def _forget(self) -> None:
        self._target, self._version, self._cause = None, 0, None

    def _metadata(self, target: Target) -> EventMetadata:
        """Actor applier; correlated with the promotion that set the desired release."""
        base = EventMetadata(actor=APPLIER_ACTOR)
        cause = self._cause
        if cause is not None and cause.data.get("release") == target.desired_release:
            base = base.caused_by(cause)
        return with_active_trace(base)

    async def _record(self, command: Callable[[Target], T]) -> T:
        """Run a command on the current aggregate and save it; reload and redo on a race."""

        async def attempt() -> T:
            target = await self._load()
            if target is None:
                target = self._target = Target(app=self.app.name, environment=self.env.name)
            result = command(target)
            await self.ctx.fence(self.stream)  # after the read above: see fence()
            try:
                await asyncio.wait_for(
                    self.ctx.repository.save(target, metadata=self._metadata(target)),
                    timeout=self.ctx.settings.store_timeout,
                )
            except ConcurrencyError:
                self._forget()
                raise
            self._version = target.version
            return result

        return await retry(attempt, attempts=_ATTEMPTS, on=ConcurrencyError)
