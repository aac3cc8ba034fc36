"""Load aggregates from their streams and save their new events through the event store.

Loaded and saved aggregates are kept in a small LRU cache: the next load of the same
stream copies the cached aggregate and reads only the events recorded after it, instead
of replaying the whole stream (a busy target has thousands of events). With a cold cache
a load starts from the stream's snapshot (`engine.snapshots`), taken whenever a load has
read `snapshot_every` events past the last one. The store stays the truth — every load
still asks it for newer events — so several processes can share the log.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from typing import Any, Protocol, TypeVar

from eventsourcing.domain import Aggregate

from engine import snapshots
from engine.codec import EventRegistry, to_domain_event, to_new_event
from engine.domain.app import App
from engine.domain.audit import Audit
from engine.domain.freeze import Freeze
from engine.domain.ids import stream_title
from engine.domain.notification import Notification
from engine.domain.subscription import Subscription
from engine.domain.target import Target
from engine.store import EventMetadata, EventStore
from engine.store.idempotency import answer_for, answered
from engine.store.types import AppendResult

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)


class HasStream(Protocol):
    """An aggregate that knows its readable stream id."""

    @property
    def stream_id(self) -> str: ...


class AggregateNotFound(LookupError):
    """No events exist for the stream."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        super().__init__(f"there is no {stream_title(stream_id)}")


def default_registry() -> EventRegistry:
    """The registry of every aggregate baton has."""
    return EventRegistry(App, Target, Subscription, Notification, Freeze, Audit)


class Repository:
    """Aggregates in, aggregates out."""

    def __init__(
        self,
        store: EventStore,
        registry: EventRegistry | None = None,
        *,
        cache_size: int = 4096,
        snapshot_every: int = 100,
    ) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self._cache: OrderedDict[str, Aggregate] = OrderedDict()
        self._cache_size = cache_size
        #: a load that finds this many events after the last snapshot takes a new one
        self.snapshot_every = snapshot_every
        self._snapshot_versions: dict[str, int] = {}

    async def find(self, cls: type[A], stream_id: str) -> A | None:
        """The aggregate stored in `stream_id`, or None when the stream is empty."""
        cached = self._cache.get(stream_id)
        # a copy: the caller's commands must not reach the cached state before a save
        aggregate: Any = copy.deepcopy(cached) if cached is not None else None
        if aggregate is None:
            aggregate = await self._from_snapshot(cls, stream_id)
        after = aggregate.version if aggregate is not None else 0
        recorded = await self.store.read_stream(stream_id, after_version=after)
        for event in recorded:
            aggregate = to_domain_event(self.registry, event).mutate(aggregate)
        if aggregate is not None and not isinstance(aggregate, cls):
            raise TypeError(f"{stream_id} holds a {type(aggregate).__name__}, not {cls.__name__}")
        if recorded and aggregate is not None:
            self._remember(stream_id, aggregate)
            if aggregate.version - self._snapshot_versions.get(stream_id, 0) >= self.snapshot_every:
                await self._snapshot(stream_id, aggregate)
        elif cached is not None:
            self._cache.move_to_end(stream_id)
        found: A | None = aggregate
        return found

    async def _from_snapshot(self, cls: type[A], stream_id: str) -> A | None:
        found = await self.store.read_snapshot(stream_id, snapshots.fingerprint())
        if found is None:
            return None
        version, state = found
        try:
            aggregate = snapshots.restore(cls, state)
        except (snapshots.SnapshotUnreadable, TypeError, ValueError) as exc:
            log.warning("snapshot of %s at version %d ignored: %s", stream_id, version, exc)
            return None
        self._snapshot_versions[stream_id] = version
        return aggregate

    async def _snapshot(self, stream_id: str, aggregate: Aggregate) -> None:
        """Keep the aggregate's state, so that a load with a cold cache starts from here."""
        self._snapshot_versions[stream_id] = aggregate.version
        try:
            state = snapshots.take(aggregate)
            await self.store.write_snapshot(
                stream_id, aggregate.version, snapshots.fingerprint(), state
            )
        except Exception as exc:
            # a cache that could not be filled must not fail the load it came from: the
            # next cold load replays the stream instead
            log.warning("no snapshot of %s at version %d: %s", stream_id, aggregate.version, exc)

    def _remember(self, stream_id: str, aggregate: Aggregate) -> None:
        if self._cache_size == 0:  # a caller that keeps its aggregates: spare the copy
            return
        self._cache[stream_id] = copy.deepcopy(aggregate)
        self._cache.move_to_end(stream_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def get(self, cls: type[A], stream_id: str) -> A:
        """The aggregate stored in `stream_id`; AggregateNotFound when there is none."""
        aggregate = await self.find(cls, stream_id)
        if aggregate is None:
            raise AggregateNotFound(stream_id)
        return aggregate

    async def save(self, *aggregates: Aggregate, metadata: EventMetadata) -> list[AppendResult]:
        """Append every aggregate's pending events; all or nothing, optimistic on versions."""
        batches = []
        for aggregate in aggregates:
            pending = aggregate.collect_events()
            if not pending:
                continue
            stream_id = _stream_id(aggregate)
            expected = pending[0].originator_version - 1
            batches.append((stream_id, [to_new_event(self.registry, e) for e in pending], expected))
        if not batches:
            return []
        # a keyed API request commits its answer with its events (engine.store.idempotency)
        answer = answer_for(aggregates)
        if len(batches) == 1:
            stream_id, events, expected = batches[0]
            results = [
                await self.store.append(
                    stream_id, events, expected_version=expected, metadata=metadata, answer=answer
                )
            ]
        else:
            results = await self.store.append_many(batches, metadata=metadata, answer=answer)
        answered(answer)
        # only now, once stored, is the aggregate's state the stream's state
        for aggregate in aggregates:
            self._remember(_stream_id(aggregate), aggregate)
        return results


def _stream_id(aggregate: Aggregate) -> str:
    stream_id = getattr(aggregate, "stream_id", None)
    if not isinstance(stream_id, str):
        raise TypeError(f"{type(aggregate).__name__} has no stream_id")
    return stream_id
