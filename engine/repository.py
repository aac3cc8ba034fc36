"""Load aggregates from their streams and save their new events through the event store."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from eventsourcing.domain import Aggregate

from engine.codec import EventRegistry, to_domain_event, to_new_event
from engine.domain.app import App
from engine.domain.target import Target
from engine.store import EventMetadata, EventStore
from engine.store.types import AppendResult

A = TypeVar("A", bound=Aggregate)


class HasStream(Protocol):
    """An aggregate that knows its readable stream id."""

    @property
    def stream_id(self) -> str: ...


class AggregateNotFound(LookupError):
    """No events exist for the stream."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        super().__init__(f"{stream_id} does not exist")


def default_registry() -> EventRegistry:
    """The registry of every aggregate baton has."""
    return EventRegistry(App, Target)


class Repository:
    """Aggregates in, aggregates out."""

    def __init__(self, store: EventStore, registry: EventRegistry | None = None) -> None:
        self.store = store
        self.registry = registry or default_registry()

    async def find(self, cls: type[A], stream_id: str) -> A | None:
        """The aggregate stored in `stream_id`, or None when the stream is empty."""
        aggregate: Any = None
        for recorded in await self.store.read_stream(stream_id):
            aggregate = to_domain_event(self.registry, recorded).mutate(aggregate)
        if aggregate is not None and not isinstance(aggregate, cls):
            raise TypeError(f"{stream_id} holds a {type(aggregate).__name__}, not {cls.__name__}")
        return aggregate

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
        if len(batches) == 1:
            stream_id, events, expected = batches[0]
            result = await self.store.append(
                stream_id, events, expected_version=expected, metadata=metadata
            )
            return [result]
        return await self.store.append_many(batches, metadata=metadata)


def _stream_id(aggregate: Aggregate) -> str:
    stream_id = getattr(aggregate, "stream_id", None)
    if not isinstance(stream_id, str):
        raise TypeError(f"{type(aggregate).__name__} has no stream_id")
    return stream_id
