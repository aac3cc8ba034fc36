"""Counting outcomes from the event log, so `/metrics` reports what the audit shows.

Not a durable subscription (`engine.subscriptions`), on purpose: the counters are this
process's, starting at zero with it (Prometheus takes a reset as a restart), so every
process counts, from the head; a shared checkpoint would leave all but one at zero.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from engine.domain.ids import parse_target_stream
from engine.domain.vocabulary import EventType
from engine.metrics import DRIFT, PROMOTION_SECONDS, PROMOTIONS, SYNC_SECONDS, SYNCS
from engine.store import EventStore, RecordedEvent

log = logging.getLogger(__name__)

_PROMOTION_OUTCOMES: dict[str, str] = {
    EventType.PROMOTION_VERIFIED: "verified",
    EventType.PROMOTION_FAILED: "failed",
    EventType.PROMOTION_REJECTED: "rejected",
    EventType.PROMOTION_CANCELLED: "cancelled",
    EventType.PROMOTION_SUPERSEDED: "superseded",
}
_SYNC_OUTCOMES: dict[str, str] = {
    EventType.SYNC_SUCCEEDED: "succeeded",
    EventType.SYNC_FAILED: "failed",
    EventType.SYNC_ABANDONED: "abandoned",
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
        target = parse_target_stream(event.stream_id)
        if target is None:
            return  # outcomes are the targets': an app's events count nothing
        environment = target[1]
        if kind == EventType.PROMOTION_REQUESTED:
            self._requested[data["promotion_id"]] = event.recorded_at
        elif kind in _PROMOTION_OUTCOMES:
            PROMOTIONS.labels(environment, _PROMOTION_OUTCOMES[kind]).inc()
            started = self._requested.pop(data.get("promotion_id", ""), None)
            if started is not None:
                PROMOTION_SECONDS.labels(environment).observe(
                    (event.recorded_at - started).total_seconds()
                )
        elif kind == EventType.SYNC_STARTED:
            self._sync_started[data.get("sync_id", "")] = event.recorded_at
        elif kind in _SYNC_OUTCOMES:
            outcome = _SYNC_OUTCOMES[kind]
            SYNCS.labels(outcome).inc()
            started = self._sync_started.pop(data.get("sync_id", ""), None)
            if started is not None:
                SYNC_SECONDS.labels(outcome).observe((event.recorded_at - started).total_seconds())
        elif kind == EventType.DRIFT_DETECTED:
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
        async with store.subscribe(after=self.position, poll_interval=poll_interval) as batches:
            async for batch in batches:
                for event in batch:
                    try:
                        self.observe(event)
                    except (KeyError, TypeError, ValueError):
                        log.warning("could not count event %s (%s)", event.position, event.type)
                    self.position = event.position
                await asyncio.sleep(0)
