"""Counting outcomes from the event log, so `/metrics` reports what the audit shows."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from engine.metrics import DRIFT, PROMOTION_SECONDS, PROMOTIONS, SYNC_SECONDS, SYNCS
from engine.store import EventStore, RecordedEvent

log = logging.getLogger(__name__)

_PROMOTION_OUTCOMES = {
    "Target.PromotionVerified": "verified",
    "Target.PromotionFailed": "failed",
    "Target.PromotionRejected": "rejected",
    "Target.PromotionCancelled": "cancelled",
    "Target.PromotionSuperseded": "superseded",
}
_SYNC_OUTCOMES = {
    "Target.SyncSucceeded": "succeeded",
    "Target.SyncFailed": "failed",
    "Target.SyncAbandoned": "abandoned",
}


class EventMetrics:
    """Counts outcomes from events; remembers starts to measure durations."""

    def __init__(self) -> None:
        self._requested: dict[str, datetime] = {}
        self._sync_started: dict[str, datetime] = {}
        #: the last event counted; None until :meth:`follow` first starts
        self.position: int | None = None

    def observe(self, event: RecordedEvent) -> None:
        """Update the metrics for one event."""
        kind, data = event.type, event.data
        environment = event.stream_id.rsplit(":", 1)[-1]
        if kind == "Target.PromotionRequested":
            self._requested[data["promotion_id"]] = event.recorded_at
        elif kind in _PROMOTION_OUTCOMES:
            PROMOTIONS.labels(environment, _PROMOTION_OUTCOMES[kind]).inc()
            started = self._requested.pop(data.get("promotion_id", ""), None)
            if started is not None:
                PROMOTION_SECONDS.labels(environment).observe(
                    (event.recorded_at - started).total_seconds()
                )
        elif kind == "Target.SyncStarted":
            self._sync_started[data.get("sync_id", "")] = event.recorded_at
        elif kind in _SYNC_OUTCOMES:
            outcome = _SYNC_OUTCOMES[kind]
            SYNCS.labels(outcome).inc()
            started = self._sync_started.pop(data.get("sync_id", ""), None)
            if started is not None:
                SYNC_SECONDS.labels(outcome).observe((event.recorded_at - started).total_seconds())
        elif kind == "Target.DriftDetected":
            DRIFT.labels(environment).inc()

    async def follow(
        self, store: EventStore, *, poll_interval: float = 1.0, after: int | None = None
    ) -> None:
        """Observe every event after `after`, until cancelled.

        Without `after`: from the head at the first call; a call after a failure resumes
        after the last event counted, so the events of an outage are counted too.
        """
        if after is not None:
            self.position = after
        elif self.position is None:
            self.position = await store.head_position()
        async for batch in store.subscribe(after=self.position, poll_interval=poll_interval):
            for event in batch:
                try:
                    self.observe(event)
                except (KeyError, TypeError, ValueError):
                    log.warning("could not count event %s (%s)", event.position, event.type)
                self.position = event.position
            await asyncio.sleep(0)
