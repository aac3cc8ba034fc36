"""The audit log and time travel: filtered, paged events (JSON or NDJSON), state as of a
moment, and the difference between two moments.

Where it sits: read side, over the audit and temporal read models (`api.reads`).
"""

from __future__ import annotations

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.guard import require
from api.operation import JSON, Answer, Operation, json_answer
from api.render import dump_bytes, json_response
from api.responses import AuditEntry, EventPage, State, StateDiff
from api.tracing import with_trace_link

NDJSON = "application/x-ndjson"

#: the filters of the audit log and of its live tail (`api.views.stream`)
APP = params.Text(name="app", description="only this app")
ENVIRONMENT = params.Text(name="environment", description="only this environment")
ACTOR = params.Text(name="actor", description="only events this actor caused")
TYPE = params.Text(
    name="type",
    description="only this event type (`PromotionApproved` or `Target.PromotionApproved`)",
)
FILTERS = (APP, ENVIRONMENT, ACTOR, TYPE)
SINCE = params.Time(name="since", description="recorded at or after")
UNTIL = params.Time(name="until", description="recorded before")
BEFORE = params.Integer(name="before", description="page back from this position", low=1)
AFTER = params.Integer(name="after", description="only events after this position", low=0)
LIMIT = params.Integer(name="limit", description="page size", low=1, high=500, default=50)
AS_OF = params.MomentQuery(name="as_of", description="the moment (default: now)")
FROM = params.MomentQuery(name="from", description="the earlier moment", required=True)
TO = params.MomentQuery(name="to", description="the later moment (default: now)")


def _filters(request: web.Request) -> reads.EventFilter:
    return reads.EventFilter(
        app=APP.read(request),
        environment=ENVIRONMENT.read(request),
        actor=ACTOR.read(request),
        type=TYPE.read(request),
        since=SINCE.read(request),
        until=UNTIL.read(request),
    )


@Operation(
    tag="audit",
    answers=[
        Answer(
            status=200,
            description="a page of events (or all of them as NDJSON, one `AuditEntry` a line)",
            content={JSON: EventPage, NDJSON: str},
            items={NDJSON: AuditEntry},
        )
    ],
    query=[*FILTERS, SINCE, UNTIL, BEFORE, AFTER, LIMIT],
)
async def list_events(request: web.Request) -> web.StreamResponse:
    """The audit log, newest first; NDJSON with `Accept: application/x-ndjson`.

    `?before=` pages back; NDJSON streams every match.
    """
    require(request, Role.VIEWER)
    filters = _filters(request)
    limit = LIMIT.read(request)
    before = BEFORE.read(request)
    after = AFTER.read(request)
    assert limit is not None
    if NDJSON in request.headers.get("Accept", ""):
        return await _stream_ndjson(request, filters, before=before, after=after)
    page = await reads.events_page(request.app, filters, limit=limit, before=before, after=after)
    page["items"] = [with_trace_link(request.app, row) for row in page["items"]]
    return json_response(page)


async def _stream_ndjson(
    request: web.Request, filters: reads.EventFilter, *, before: int | None, after: int | None
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    async for item in reads.iter_events(request.app, filters, before=before, after=after):
        await response.write(dump_bytes(with_trace_link(request.app, item)) + b"\n")
    await response.write_eof()
    return response


@Operation(tag="time-travel", answers=[json_answer(State, "the state")], query=[AS_OF])
async def state_as_of(request: web.Request) -> web.Response:
    """Time travel: what ran where at a moment (a time or a log position; default: now)."""
    require(request, Role.VIEWER)
    moment = AS_OF.read(request)
    body = await reads.state(request.app, moment)
    return web.Response(body=body, content_type="application/json")


@Operation(tag="time-travel", answers=[json_answer(StateDiff, "the changes")], query=[FROM, TO])
async def state_diff(request: web.Request) -> web.Response:
    """What changed per target between two moments."""
    require(request, Role.VIEWER)
    start = FROM.read(request)
    end = TO.read(request)
    assert start is not None
    return json_response(await reads.diff(request.app, start, end))
