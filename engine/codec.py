"""Between domain events (eventsourcing dataclasses) and the store's rows.

Stored type names are `Aggregate.Event` (e.g. `Target.PromotionRequested`), not Python
import paths, so modules can move without rewriting history. Schema evolution follows
the eventsourcing convention: an event class with `class_version = N` provides static
`upcast_vK_vK+1(state)` methods, applied to older rows as they are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any

from eventsourcing.domain import Aggregate, CanInitAggregate
from eventsourcing.utils import get_topic

from engine.domain.ids import stream_uuid
from engine.domain.vocabulary import EventType
from engine.store.types import NewEvent, RecordedEvent

_ENVELOPE = ("originator_id", "originator_version", "originator_topic")


class UnknownEventType(Exception):
    """The log holds an event type no aggregate declares."""

    def __init__(self, position: int, type_name: str) -> None:
        self.position = position
        self.type_name = type_name
        super().__init__(
            f"event at position {position} has type {type_name!r}, which no aggregate "
            "declares (was an event class renamed or removed?)"
        )


@dataclass(frozen=True)
class _Entry:
    aggregate: type[Aggregate]
    event: type[Aggregate.Event]


class EventRegistry:
    """Which event class each stored type name stands for."""

    def __init__(self, *aggregates: type[Aggregate]) -> None:
        self._by_name: dict[str, _Entry] = {}
        self._names: dict[type[Any], str] = {}
        self._versions: dict[str, int] = {}  # the types past version 1
        for aggregate in aggregates:
            self.register(aggregate)

    def register(self, aggregate: type[Aggregate]) -> None:
        """Register every event class nested in `aggregate`."""
        for attr, value in vars(aggregate).items():
            if attr != "Event" and isinstance(value, type) and issubclass(value, Aggregate.Event):
                name = EventType(f"{aggregate.__name__}.{attr}")  # the vocabulary names it
                self._by_name[name] = _Entry(aggregate, value)
                self._names[value] = name
                version = getattr(value, "class_version", 1)
                if version > 1:
                    self._versions[name] = version

    def name_of(self, event: object) -> str:
        """The stored type name of a domain event."""
        try:
            return self._names[type(event)]
        except KeyError:
            raise KeyError(f"{type(event).__qualname__} is not a registered event") from None

    def entry(self, recorded: RecordedEvent) -> _Entry:
        """The aggregate and event class of a recorded event."""
        entry = self._by_name.get(recorded.type)
        if entry is None:
            raise UnknownEventType(recorded.position, recorded.type)
        return entry

    def knows(self, type_name: str) -> bool:
        """True when `type_name` is a registered event type."""
        return type_name in self._by_name

    def current_versions(self) -> dict[str, int]:
        """Each event type whose class is past version 1, and its current version."""
        return dict(self._versions)

    def current(
        self, type_name: str, version: int, data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """(version, data) of an event stored at `version`, upcast to its class's current
        shape; a type no aggregate declares as it is. The one reading of old events:
        the store's readers and the `event_upcasts` table for readers in SQL use it."""
        current = self._versions.get(type_name)
        if current is None or version >= current:
            return version, data
        return current, upcast(self._by_name[type_name].event, version, data)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


@cache
def _datetime_fields(cls: type[Any]) -> frozenset[str]:
    names = set()
    for klass in cls.__mro__:
        for name, annotation in getattr(klass, "__annotations__", {}).items():
            text = annotation if isinstance(annotation, str) else repr(annotation)
            if "datetime" in text:
                names.add(name)
    return frozenset(names)


def to_new_event(registry: EventRegistry, event: object) -> NewEvent:
    """A domain event as the store takes it."""
    state = {k: _encode(v) for k, v in vars(event).items() if k not in _ENVELOPE}
    return NewEvent(
        type=registry.name_of(event),
        data=state,
        schema_version=getattr(type(event), "class_version", 1),
    )


def upcast(cls: type[Any], version: int, data: dict[str, Any]) -> dict[str, Any]:
    """`data`, written at schema `version` of event class `cls`, in the class's current shape."""
    current = getattr(cls, "class_version", 1)
    if version >= current:
        return data
    state = dict(data)
    while version < current:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


def to_domain_event(registry: EventRegistry, recorded: RecordedEvent) -> Aggregate.Event:
    """A recorded event as its domain class, upcast to the class's current version."""
    entry = registry.entry(recorded)
    cls = entry.event
    state = dict(upcast(cls, recorded.schema_version, recorded.data))
    for name in _datetime_fields(cls):
        if isinstance(state.get(name), str):
            state[name] = datetime.fromisoformat(state[name])
    state["originator_id"] = stream_uuid(recorded.stream_id)
    state["originator_version"] = recorded.stream_version
    if issubclass(cls, CanInitAggregate):
        state["originator_topic"] = get_topic(entry.aggregate)
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    return event
