"""Watch streams: `?watch=1` answered as a chunked stream of JSON event lines.

`handlers.py` hands list requests with `watch` here. The stream subscribes to the store
before it reads the initial state, so no event falls between the two. Too-old
resourceVersions get an ERROR event with a 410 `Expired` Status, as from a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubesim.cluster import Cluster
from kubesim.errors import expired
from kubesim.operations import Operations
from kubesim.resources import ResourceType
from kubesim.selectors import Selector
from kubesim.store import Event, EventType, queue_listener
from kubesim.tables import table

_BATCH = 256  # events written per socket write when a watcher falls behind
_POLL = 1.0  # seconds between checks that the client is still there


@dataclass(frozen=True, slots=True)
class WatchRequest:
    """The query of one watch."""

    rt: ResourceType
    namespace: str | None
    selector: Selector
    resource_version: str
    timeout: float | None
    bookmarks: bool
    send_initial_events: bool
    # Set when the client asked for Tables (kubectl get -w): the includeObject policy.
    table: str | None = None


@dataclass
class _Renderer:
    """Turns objects into event lines for one watch: raw, or as Table rows."""

    req: WatchRequest
    ops: Operations
    headers_sent: bool = False

    def line(self, kind: EventType, obj: dict[str, Any]) -> bytes:
        view = self.ops.view(self.req.rt, obj)
        if self.req.table is None:
            return _line(kind, view)
        doc = table(
            self.req.rt.key,
            [view],
            rv=view["metadata"]["resourceVersion"],
            include_object=self.req.table,
        )
        if self.headers_sent:
            doc["columnDefinitions"] = []  # as the API server: headers in the first event only
        self.headers_sent = True
        return _line(kind, doc)


def _line(kind: EventType | str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": str(kind), "object": obj}).encode() + b"\n"


def _bookmark(rt: ResourceType, rv: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line(
        EventType.BOOKMARK, {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
    )


def _translate(event: Event, req: WatchRequest, render: _Renderer) -> bytes | None:
    """The line a watcher sees, honouring selector transitions (in → ADDED, out → DELETED)."""
    if req.selector.empty:
        if req.table is None and event.obj.get("apiVersion") == req.rt.api_version:
            return event.wire()
        return render.line(event.type, event.obj)
    now = req.selector.matches(event.obj)
    before = event.old is not None and req.selector.matches(event.old)
    if event.type is EventType.DELETED:
        return render.line(EventType.DELETED, event.obj) if before else None
    if now and before:
        kind = EventType.MODIFIED
    elif now:
        kind = EventType.ADDED
    elif before:
        kind = EventType.DELETED
    else:
        return None
    return render.line(kind, event.obj)


async def serve_watch(
    request: web.Request, cluster: Cluster, req: WatchRequest
) -> web.StreamResponse:
    """Stream events until the client leaves, timeoutSeconds passes or a fault cuts it."""
    store = cluster.store
    render = _Renderer(req, cluster.ops)
    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def accept(event: Event) -> bool:
        return event.table == req.rt.key and (
            req.namespace is None or event.namespace == req.namespace
        )

    unsubscribe = store.subscribe(queue_listener(queue, accept))
    cluster.watch_queues.add(queue)
    try:
        initial: list[bytes] = []
        rv = req.resource_version
        if rv in ("", "0") or req.send_initial_events:
            for stored in store.items(req.rt, req.namespace):
                if req.selector.empty or req.selector.matches(stored.obj):
                    initial.append(render.line(EventType.ADDED, stored.obj))
            if req.send_initial_events and req.bookmarks:
                initial.append(_bookmark(req.rt, store.rv, initial_end=True))
        else:
            since = store.events_since(int(rv)) if rv.isdigit() else None
            if since is None:
                error = expired(f"too old resource version: {rv} ({store.compacted + 1})")
                initial.append(_line(EventType.ERROR, error.status()))
                return await _send_and_close(request, initial)
            for event in since:
                if accept(event) and (line := _translate(event, req, render)) is not None:
                    initial.append(line)
        return await _stream(request, cluster, render, initial, queue)
    finally:
        unsubscribe()
        cluster.watch_queues.discard(queue)


async def _send_and_close(request: web.Request, lines: list[bytes]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b"".join(lines))
    await response.write_eof()
    return response


async def _stream(
    request: web.Request,
    cluster: Cluster,
    render: _Renderer,
    initial: list[bytes],
    queue: asyncio.Queue[Event | None],
) -> web.StreamResponse:
    req = render.req
    response = web.StreamResponse(
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    await response.prepare(request)
    if initial:
        await response.write(b"".join(initial))
    else:
        await response.write(b"")  # flush headers so clients see the watch established
    started = time.monotonic()
    faults = cluster.faults
    drop = faults.watch_drop_after
    limits = [t for t in (req.timeout, drop) if t is not None]
    deadline = started + min(limits) if limits else None
    interval = cluster.timing.bookmark_interval if req.bookmarks else None
    next_bookmark = started + interval if interval is not None else None
    with contextlib.suppress(ConnectionResetError):
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if (
                    drop is not None
                    and faults.watch_drop_mode.is_abrupt
                    and (req.timeout is None or drop < req.timeout)
                    and request.transport
                ):
                    request.transport.abort()  # the client sees a broken chunked body
                    return response
                break
            if next_bookmark is not None and interval is not None and now >= next_bookmark:
                await response.write(_bookmark(req.rt, cluster.store.rv))
                next_bookmark = now + interval
            # Wake at least every _POLL seconds to notice a client that went away.
            wait = min(t - now for t in (deadline, next_bookmark, now + _POLL) if t is not None)
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    event = await queue.get()
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break
                continue
            batch = [event]
            while not queue.empty() and len(batch) < _BATCH:
                batch.append(queue.get_nowait())
            if None in batch:
                break
            lines = [line for e in batch if e is not None and (line := _translate(e, req, render))]
            if lines:
                await response.write(b"".join(lines))
        await response.write_eof()
    return response
