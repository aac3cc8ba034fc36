"""Watch streams: the events of one kind after a resourceVersion, as the API server sends them.

Where it sits: under :meth:`engine.kube.ClusterClient.watch`, which opens the request; this
turns its chunked body (one JSON event per line) into :class:`WatchEvent` values. An
``ERROR`` event (a Status, e.g. 410 Expired when the resourceVersion is too old) is raised
as a :class:`KubeError`, so that a caller handles it like any other answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.kube.errors import KubeError


class WatchEventType(StrEnum):
    """What happened to the object of a watch event."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"  # no change: the stream is current up to its resourceVersion

    @property
    def is_removal(self) -> bool:
        """True when the object left (deleted, or no longer matches the selector)."""
        return self is WatchEventType.DELETED


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One event of a watch stream."""

    type: WatchEventType
    obj: dict[str, Any]

    @property
    def resource_version(self) -> str:
        """The resourceVersion to resume the watch after this event."""
        return str((self.obj.get("metadata") or {}).get("resourceVersion", ""))


async def events_of(
    lines: AsyncIterable[bytes], *, api_version: str, kind: str, what: str
) -> AsyncIterator[WatchEvent]:
    """The events in a watch body's lines; objects get `api_version` and `kind` where they
    lack them."""
    async for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        obj = event.get("object") or {}
        if event.get("type") == "ERROR":
            raise KubeError(
                status=int(obj.get("code") or 500),
                reason=str(obj.get("reason") or "Unknown"),
                message=str(obj.get("message") or ""),
                what=what,
            )
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        yield WatchEvent(WatchEventType(event["type"]), obj)
