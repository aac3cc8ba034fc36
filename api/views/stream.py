"""`GET /events/stream`: the event log tailed live as server-sent events.

Where it sits: a long-lived read. A pump task follows the store's subscription (NOTIFY,
with polling as the fallback) into a queue; the response writes each matching event as
an SSE message whose id is the event's position, so a client that reconnects with
`Last-Event-ID` (or `?after=`) resumes exactly where it stopped. A database outage does
not end the stream: the pump reads again after a capped backoff with jitter, after the
last event it queued. Comments keep idle connections alive through proxies. When the
server stops, the stream ends within a second (`STOPPING`), not at the stop's timeout.
Not a durable subscription (`engine.subscriptions`): the checkpoint is the client's own,
its `Last-Event-ID`, and every client tails on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from api import params
from api.auth import Role
from api.errors import Problem, Refusal
from api.guard import require
from api.keys import CONFIG, DATABASE, STOPPING, STREAM_SLOTS
from api.operation import Answer, Header, Operation
from api.render import dumps, event_json
from api.responses import Event
from api.views.history import ACTOR, APP, ENVIRONMENT, FILTERS, TYPE
from engine.backoff import Backoff
from engine.domain.ids import app_of_stream, parse_target_stream
from engine.store import DATABASE_UNAVAILABLE, EventStore, RecordedEvent

_QUEUE = 1000
_CHECK_S = 1.0  # how often an idle tail looks whether its client is still there
_UNAVAILABLE: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, OSError, TimeoutError)
Match = Callable[[RecordedEvent], bool]
AFTER = params.Integer(
    name="after",
    description="start after this position (default: now); `Last-Event-ID` also works",
    low=0,
)
LAST_EVENT_ID = Header(
    name="Last-Event-ID",
    description="the position to resume after (what a reconnecting EventSource sends)",
)


def _position(text: str, field: str) -> int:
    if not params.DIGITS.fullmatch(text) or int(text) > params.MAX_POSITION:
        raise Problem(
            422,
            "validation-error",
            "Not a log position",
            field=field,
            detail=f"{field} must be a non-negative integer, got {text!r}",
            errors=[{"field": field, "message": "expected a non-negative integer"}],
        )
    return int(text)


def matcher(request: web.Request) -> Match:
    """The filter of `?app=&environment=&type=&actor=` over recorded events."""
    app = APP.read(request)
    environment = ENVIRONMENT.read(request)
    kind = TYPE.read(request)
    actor = ACTOR.read(request)

    def match(event: RecordedEvent) -> bool:
        if app is not None and app_of_stream(event.stream_id) != app:
            return False
        target = parse_target_stream(event.stream_id)
        if environment is not None and (target is None or target[1] != environment):
            return False
        if kind is not None and kind not in (event.type, event.type.split(".")[-1]):
            return False
        return actor is None or event.metadata.actor == actor

    return match


async def _pump(
    store: EventStore, after: int, queue: asyncio.Queue[RecordedEvent], backoff: Backoff
) -> None:
    """Queue every event after `after`, for ever; a failed read is tried again after a
    backoff, from the last event queued, so the client sees neither a gap nor a repeat."""
    failures = 0
    while True:
        try:
            async with store.subscribe(after=after, poll_interval=0.5) as batches:
                async for batch in batches:
                    failures = 0
                    for event in batch:
                        await queue.put(event)
                        after = event.position
        except _UNAVAILABLE:  # other errors end the stream (see `_tail`)
            failures += 1
            await asyncio.sleep(backoff.delay(failures))


@Operation(
    tag="audit",
    answers=[
        Answer(
            status=200,
            description="an endless text/event-stream: each message's id is the event's "
            "position, its event the type, its data an `Event`",
            content={"text/event-stream": str},
            items={"text/event-stream": Event},
        )
    ],
    query=[*FILTERS, AFTER],
    headers=[LAST_EVENT_ID],
    refusals=[Refusal(503, "too many live tails at once", retry_after=True)],
)
async def stream_events(request: web.Request) -> web.StreamResponse:
    """The log tailed live as server-sent events.

    Every matching event after the cursor, then new ones as they are recorded.
    """
    require(request, Role.VIEWER)
    store = request.app[DATABASE].store
    cursor = request.headers.get(LAST_EVENT_ID.name) or request.query.get(AFTER.name)
    after = _position(cursor, "after") if cursor else await store.head_position()
    match = matcher(request)
    slots = request.app[STREAM_SLOTS]
    if slots.locked():
        raise Problem(
            503,
            "too-many-streams",
            "Too many live tails",
            detail="every live tail holds a database connection; try again later",
            headers={"Retry-After": "5"},
        )
    async with slots:
        return await _tail(request, store, after, match)


def _gone(request: web.Request) -> bool:
    """True once the client has closed the connection (frees the slot within a second)."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def _tail(
    request: web.Request, store: EventStore, after: int, match: Match
) -> web.StreamResponse:
    heartbeat = request.app[CONFIG].heartbeat.total_seconds()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(f": tailing after position {after}\n\n".encode())
    queue: asyncio.Queue[RecordedEvent] = asyncio.Queue(maxsize=_QUEUE)
    pump = asyncio.create_task(
        _pump(store, after, queue, Backoff()), name=f"sse-pump:{id(request)}"
    )
    idle = 0.0
    stopping = request.app[STOPPING]
    try:
        while not _gone(request):
            if stopping.is_set():  # the client reconnects elsewhere with Last-Event-ID
                await response.write(b": baton is stopping\n\n")
                await response.write_eof()
                break
            try:
                event = await asyncio.wait_for(queue.get(), timeout=_CHECK_S)
            except TimeoutError:
                if pump.done():
                    pump.result()  # a dead pump ends the stream with its error
                idle += _CHECK_S
                if idle >= heartbeat:
                    idle = 0.0
                    await response.write(b": keep-alive\n\n")
                continue
            if match(event):
                data = dumps(event_json(event))
                message = f"id: {event.position}\nevent: {event.type}\ndata: {data}\n\n"
                await response.write(message.encode())
    except ConnectionResetError:
        pass  # the client went away
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    return response
