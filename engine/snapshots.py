"""Aggregate snapshots: an aggregate's state at a version, as JSON, so a load need not
replay its whole stream.

A snapshot is a cache, never a record: the log alone is the truth, and a snapshot that
cannot be read back (another code version, a value of a type not listed here) is ignored
and the stream replayed. Which code wrote it is part of it: the fingerprint of the domain
modules' source, so a change to how an event mutates an aggregate retires every snapshot
taken before it. Values are tagged with their type by name, and only the types listed
here are ever built from a snapshot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from engine.domain import app, enums, promotion, subscription, target, target_state

A = TypeVar("A", bound=Aggregate)

_MODULES = (app, enums, promotion, subscription, target, target_state)
#: the value types an aggregate's state may hold besides JSON's own, by name
_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for module in _MODULES
    for cls in vars(module).values()
    if isinstance(cls, type)
    and cls.__module__ == module.__name__
    and not issubclass(cls, Aggregate)
    and (dataclasses.is_dataclass(cls) or issubclass(cls, Enum))
}
# the aggregate's own bookkeeping: the events not yet saved belong to no snapshot
_UNSAVED = "_pending_events"


class SnapshotUnreadable(Exception):
    """A snapshot holds a value this code does not know how to build."""


def _source_hash() -> str:
    digest = hashlib.sha256()
    try:
        for module in _MODULES:
            digest.update(inspect.getsource(module).encode())
    except OSError:  # installed without sources: trust no snapshot another process took
        return uuid4().hex
    return digest.hexdigest()[:16]


# read once at import: the sources are files, and loads run on the event loop
_FINGERPRINT = _source_hash()


def fingerprint() -> str:
    """Identifies the domain code: snapshots taken by other code are not read."""
    return _FINGERPRINT


def take(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's state as JSON-ready values; TypeError for a value of an unknown type."""
    return {k: _encode(v) for k, v in vars(aggregate).items() if k != _UNSAVED}


def restore(cls: type[A], state: dict[str, Any]) -> A:
    """The aggregate whose state `take` returned."""
    aggregate = object.__new__(cls)
    aggregate.__dict__.update({k: _decode(v) for k, v in state.items()})
    aggregate.__dict__[_UNSAVED] = []
    return aggregate


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Enum):  # before str: a StrEnum is a str
        return {"$enum": _known(type(value)), "value": value.value}
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted((_encode(v) for v in value), key=repr)}
    if isinstance(value, dict):
        return {"$dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$dataclass": _known(type(value)), "fields": fields}
    raise TypeError(f"a snapshot cannot hold a {type(value).__qualname__}")


def _known(cls: type[Any]) -> str:
    if _TYPES.get(cls.__name__) is not cls:
        raise TypeError(f"a snapshot cannot hold a {cls.__qualname__}")
    return cls.__name__


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$enum" in value:
        return _type(value["$enum"])(value["value"])
    if "$uuid" in value:
        return UUID(value["$uuid"])
    if "$tuple" in value:
        return tuple(_decode(v) for v in value["$tuple"])
    if "$set" in value:
        return {_decode(v) for v in value["$set"]}
    if "$dict" in value:
        return {_decode(k): _decode(v) for k, v in value["$dict"]}
    if "$dataclass" in value:
        fields = {k: _decode(v) for k, v in value["fields"].items()}
        return _type(value["$dataclass"])(**fields)
    raise SnapshotUnreadable(f"untagged object in a snapshot: {sorted(value)}")


def _type(name: str) -> type[Any]:
    try:
        return _TYPES[name]
    except KeyError:
        raise SnapshotUnreadable(f"a snapshot names an unknown type {name!r}") from None
