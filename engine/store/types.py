"""Values that cross the event store's boundary: new events in, recorded events out.

Everything is validated here, before a connection is touched, so that a bad event
never leaves half a batch behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from engine.store.errors import EventValidationError

MAX_ID_LENGTH = 200
MAX_DATA_BYTES = 1024 * 1024
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_identifier(what: str, value: str) -> str:
    """Return `value` if it is usable as an id (stream, type, actor), else raise."""
    if not isinstance(value, str) or not value:
        raise EventValidationError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise EventValidationError(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if _CONTROL.search(value):
        raise EventValidationError(f"{what} {value!r} contains a control character")
    _check_utf8(what, value)
    return value


def _check_utf8(what: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventValidationError(
            f"{what} is not valid UTF-8 (character {exc.start}: {value[exc.start]!r})"
        ) from None


def encode_json(what: str, value: Mapping[str, Any]) -> str:
    """Serialise an event's data or metadata to JSON text that jsonb accepts."""
    if not isinstance(value, Mapping):
        raise EventValidationError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise EventValidationError(f"{what} is not valid JSON: {exc}") from None
    _check_utf8(what, text)
    if "\\u0000" in text:
        raise EventValidationError(f"{what} contains a NUL character, which jsonb cannot store")
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
        return {k: v for k, v in asdict(self).items() if v is not None and k != "recorded_at"}

    @classmethod
    def from_json(cls, value: Mapping[str, Any], recorded_at: datetime) -> EventMetadata:
        """Rebuild metadata read from the log (trusted: it was validated on the way in)."""
        meta = object.__new__(cls)
        for name in ("actor", "correlation_id", "causation_id", "traceparent", "tracestate"):
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
    """An event as it stands in the log."""

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
