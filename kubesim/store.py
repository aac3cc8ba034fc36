"""The object store of one simulated cluster: tables, resourceVersions, watch history.

`operations.py` reads and writes objects here; `watch.py` subscribes to the event stream;
the simulated controllers subscribe too. Stored objects are never mutated in place: every
write stores a fresh dict, so an event can hand the same dict to every watcher.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubesim.fieldsets import ManagerEntry
from kubesim.resources import ResourceType

ObjectKey = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


class EventType(StrEnum):
    """Watch event types."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"


@dataclass(slots=True)
class Stored:
    """An object as stored, with its field ownership kept decoded beside it."""

    obj: dict[str, Any]
    managers: list[ManagerEntry] = field(default_factory=list)


@dataclass(slots=True)
class Event:
    """One change: what happened, to which object, at which resourceVersion."""

    rv: int
    type: EventType
    table: tuple[str, str]
    namespace: str
    obj: dict[str, Any]
    old: dict[str, Any] | None
    _wire: bytes | None = None

    def wire(self) -> bytes:
        """The event as one line of a watch stream, serialised once for all watchers."""
        if self._wire is None:
            self._wire = json.dumps({"type": str(self.type), "object": self.obj}).encode() + b"\n"
        return self._wire


Listener = Callable[[Event], None]


@dataclass
class Store:
    """Tables of objects per (group, resource), one resourceVersion counter for all."""

    history: int = 20_000
    rv: int = 1
    tables: dict[tuple[str, str], dict[ObjectKey, Stored]] = field(default_factory=dict)
    log: deque[Event] = field(init=False)
    listeners: list[Listener] = field(default_factory=list)
    # Oldest resourceVersion a watch may still start from; older ones get 410 Gone.
    compacted: int = 0
    # Owner uid -> dependents, so cascading deletion does not scan every table.
    dependents: dict[str, set[tuple[tuple[str, str], ObjectKey]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.history)

    def next_rv(self) -> int:
        """Reserve the next resourceVersion."""
        self.rv += 1
        return self.rv

    def table(self, rt: ResourceType) -> dict[ObjectKey, Stored]:
        """The table of one resource (all versions share it)."""
        table = self.tables.get(rt.key)
        if table is None:
            table = self.tables[rt.key] = {}
        return table

    def get(self, rt: ResourceType, namespace: str, name: str) -> Stored | None:
        """One object, or None."""
        return self.table(rt).get((namespace, name))

    def items(self, rt: ResourceType, namespace: str | None) -> Iterator[Stored]:
        """Objects of a resource in (namespace, name) order; all namespaces when None."""
        table = self.table(rt)
        for key in sorted(table):
            if namespace is None or key[0] == namespace:
                yield table[key]

    def put(self, rt: ResourceType, stored: Stored, event: EventType) -> None:
        """Store an object that already carries its new resourceVersion; tell watchers."""
        meta = stored.obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        table = self.table(rt)
        old = table.get(key)
        table[key] = stored
        if old is not None:
            self._unindex(rt.key, key, old.obj)
        for ref in meta.get("ownerReferences") or ():
            self.dependents.setdefault(ref.get("uid", ""), set()).add((rt.key, key))
        self._emit(rt, event, stored.obj, old.obj if old else None)

    def delete(self, rt: ResourceType, stored: Stored) -> None:
        """Remove an object; the DELETED event carries a fresh resourceVersion."""
        meta = stored.obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        self.table(rt).pop(key, None)
        self._unindex(rt.key, key, stored.obj)
        final = dict(stored.obj)
        final["metadata"] = dict(meta, resourceVersion=str(self.next_rv()))
        self._emit(rt, EventType.DELETED, final, stored.obj)

    def _unindex(self, table: tuple[str, str], key: ObjectKey, obj: dict[str, Any]) -> None:
        for ref in obj["metadata"].get("ownerReferences") or ():
            self.dependents.get(ref.get("uid", ""), set()).discard((table, key))

    def owned_by(self, uid: str, table: tuple[str, str]) -> list[Stored]:
        """Objects of one table whose ownerReferences name `uid`, by name."""
        keys = sorted(key for t, key in self.dependents.get(uid, ()) if t == table)
        found = (self.tables.get(table, {}).get(key) for key in keys)
        return [stored for stored in found if stored is not None]

    def dependents_of(self, uid: str) -> list[tuple[tuple[str, str], Stored]]:
        """Objects whose ownerReferences name `uid` (forgetting them: they are going)."""
        out = []
        for table, key in self.dependents.pop(uid, set()):
            stored = self.tables.get(table, {}).get(key)
            if stored is not None:
                out.append((table, stored))
        return out

    def _emit(
        self, rt: ResourceType, kind: EventType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        event = Event(rv, kind, rt.key, obj["metadata"].get("namespace", ""), obj, old)
        if len(self.log) == self.log.maxlen:
            self.compacted = self.log[0].rv
        self.log.append(event)
        for listener in list(self.listeners):
            listener(event)

    def events_since(self, rv: int) -> list[Event] | None:
        """Events after `rv`, or None when history no longer reaches back that far."""
        if rv < self.compacted:
            return None
        if not self.log or self.log[-1].rv <= rv:
            return []
        # The log is ordered by rv; walk back from the end, as watchers are mostly recent.
        out = []
        for event in reversed(self.log):
            if event.rv <= rv:
                break
            out.append(event)
        out.reverse()
        return out

    def compact(self) -> None:
        """Forget all history (a test hook: every older resourceVersion becomes 410 Gone)."""
        self.log.clear()
        self.compacted = self.rv

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every event; returns the function that unsubscribes."""
        self.listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return unsubscribe


def queue_listener(queue: asyncio.Queue[Event | None], accept: Callable[[Event], bool]) -> Listener:
    """A listener that puts accepted events on a queue (watch streams use it)."""

    def listener(event: Event) -> None:
        if accept(event):
            queue.put_nowait(event)

    return listener
