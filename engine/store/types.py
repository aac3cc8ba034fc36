"""Values that cross the event store's boundary: new events in, recorded events out.

Everything is validated here, before a connection is touched, so that a bad event
never leaves half a batch behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from engine.store.errors import EventValidationError

MAX_ID_LENGTH = 200
MAX_DATA_BYTES = 1024 * 1024
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: the fields of EventMetadata kept in an event's metadata column, in their stored order
_STORED_METADATA = ("actor", "correlation_id", "causation_id", "traceparent", "tracestate")


#: text that PostgreSQL cannot hold in `text` or `jsonb`: NUL, and the UTF-16 surrogates,
#: which are not characters and have no UTF-8 form
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

#: where a value sits inside a JSON document: keys and list indexes from the top
Location = tuple[str | int, ...]


def unstorable_text(value: str) -> str | None:
    """Why PostgreSQL cannot store the string `value` (NUL, a lone surrogate), or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return f"a NUL character at character {found.start()}"
    return f"the lone surrogate U+{ord(char):04X} at character {found.start()}, not valid UTF-8"


def find_unstorable(value: Any) -> tuple[Location, str] | None:
    """The first key or string in a JSON-like value that PostgreSQL cannot store, and why."""
    # iterative, in document order: a deeply nested value must not exhaust the stack
    pending: list[tuple[Location, Any]] = [((), value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            why = unstorable_text(item)
            if why is not None:
                return where, why
        elif isinstance(item, Mapping):
            children = list(item.items())
            for key, _ in children:
                why = unstorable_text(key) if isinstance(key, str) else None
                if why is not None:
                    return (*where, key), f"{why} in its name"
            pending.extend(((*where, key), child) for key, child in reversed(children))
        elif isinstance(item, list | tuple):
            pending.extend(((*where, i), child) for i, child in reversed(list(enumerate(item))))
    return None


def dotted(where: Location) -> str:
    """A location as a field name: `override.reason`, `projections.0`."""
    return ".".join(str(part) for part in where)


def check_identifier(what: str, value: str) -> str:
    """Return `value` if it is usable as an id (stream, type, actor), else raise."""
    if not isinstance(value, str) or not value:
        raise EventValidationError(f"{what} must be a non-empty string, got {value!r}", field=what)
    if len(value) > MAX_ID_LENGTH:
        raise EventValidationError(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}", field=what
        )
    if _CONTROL.search(value):
        raise EventValidationError(f"{what} {value!r} contains a control character", field=what)
    why = unstorable_text(value)
    if why is not None:
        raise EventValidationError(f"{what} holds {why}", field=what)
    return value


def encode_json(what: str, value: Mapping[str, Any]) -> str:
    """Serialise an event's data or metadata to JSON text that jsonb accepts."""
    if not isinstance(value, Mapping):
        raise EventValidationError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise EventValidationError(f"{what} is not valid JSON: {exc}") from None
    # JSON text escapes a NUL as \u0000 and keeps a surrogate as it is: a text with neither
    # holds nothing unstorable, so only a suspect one is walked to name the culprit
    suspect = "\\u0000" in text or _UNSTORABLE.search(text) is not None
    found = find_unstorable(value) if suspect else None
    if found is not None:
        field = dotted(found[0])
        raise EventValidationError(
            f"{what}: {field} holds {found[1]}; PostgreSQL cannot store it", field=field
        )
    if len(text.encode("utf-8")) > MAX_DATA_BYTES:
        raise EventValidationError(f"{what} is larger than {MAX_DATA_BYTES} bytes")
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class EventMetadata:
    """Who and what caused an event, and the trace it belongs to."""

    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    # set by the database when the event is recorded; ignored on append
    recorded_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_identifier("metadata.actor", self.actor)
        for name in ("correlation_id", "causation_id", "tracestate"):
            value = getattr(self, name)
            if value is not None:
                check_identifier(f"metadata.{name}", value)
        if self.traceparent is not None and not _TRACEPARENT.match(self.traceparent):
            raise EventValidationError(
                f"metadata.traceparent {self.traceparent!r} is not a W3C traceparent"
            )

    def to_json(self) -> dict[str, str]:
        """The metadata as stored: unset fields left out."""
        # not dataclasses.asdict: its deep copy was a fifth of an append's encoding
        return {name: v for name in _STORED_METADATA if (v := getattr(self, name)) is not None}

    @classmethod
    def from_json(cls, value: Mapping[str, Any], recorded_at: datetime) -> EventMetadata:
        """Rebuild metadata read from the log (trusted: it was validated on the way in)."""
        meta = object.__new__(cls)
        for name in _STORED_METADATA:
            object.__setattr__(meta, name, value.get(name))
        object.__setattr__(meta, "recorded_at", recorded_at)
        return meta

    def caused_by(self, event: RecordedEvent, *, actor: str | None = None) -> EventMetadata:
        """Metadata for an event caused by `event`: same correlation and trace."""
        return EventMetadata(
            actor=actor or self.actor,
            correlation_id=event.metadata.correlation_id,
            causation_id=str(event.position),
            traceparent=event.metadata.traceparent,
            tracestate=event.metadata.tracestate,
        )


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended."""

    type: str
    data: Mapping[str, Any]
    schema_version: int = 1


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event read from the log: its data at `schema_version`, the current one when the
    store reads with an upcaster (the row in the log keeps the shape it was written in)."""

    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime
    hash: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an appended batch landed."""

    stream_id: str
    first_position: int
    last_position: int
    last_version: int
    recorded_at: datetime


class Upcaster(Protocol):
    """What turns stored event data into its current shape (`engine.codec.EventRegistry`)."""

    def current_versions(self) -> Mapping[str, int]:
        """Each event type whose current schema version is above 1, and that version."""
        ...

    def current(
        self, type_name: str, version: int, data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """(version, data) of an event stored at `version`, in its type's current shape."""
        ...
