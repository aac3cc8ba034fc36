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
    chunks: AsyncIterable[bytes], *, api_version: str, kind: str, what: str
) -> AsyncIterator[WatchEvent]:
    """The events in a watch body; objects get `api_version` and `kind` where they lack them."""
    async for line in _lines(chunks):
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


async def _lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    # split here rather than with readline(): aiohttp's refuses lines over 128 KiB, and one
    # object (a large ConfigMap) can be a megabyte
    pending: list[bytes] = []
    async for chunk in chunks:
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        first, *rest = chunk.split(b"\n")
        for line in (b"".join([*pending, first]), *rest[:-1]):
            if line.strip():
                yield line
        pending = [rest[-1]]
    last = b"".join(pending)
    if last.strip():
        yield last
