"""The audit log and time travel: filtered, paged events (JSON or NDJSON), state as of a
moment, and the difference between two moments.

Where it sits: read side, over the audit and temporal read models (`api.reads`).
"""

from __future__ import annotations

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.guard import require
from api.render import dump_bytes, json_response
from api.tracing import with_trace_link

NDJSON = "application/x-ndjson"


def _filters(request: web.Request) -> reads.EventFilter:
    return reads.EventFilter(
        app=params.text(request, "app"),
        environment=params.text(request, "environment"),
        actor=params.text(request, "actor"),
        type=params.text(request, "type"),
        since=params.time(request, "since"),
        until=params.time(request, "until"),
    )


async def list_events(request: web.Request) -> web.StreamResponse:
    """GET /events: newest first, `?before=` pages back; NDJSON streams every match."""
    require(request, Role.VIEWER)
    filters = _filters(request)
    limit = params.integer(request, "limit", default=50, low=1, high=500)
    before = params.integer(request, "before", low=1)
    after = params.integer(request, "after", low=0)
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


async def state_as_of(request: web.Request) -> web.Response:
    """GET /state?as_of=<time|position>: what ran where at that moment (default: now)."""
    require(request, Role.VIEWER)
    moment = params.moment(request, "as_of", required=False)
    body = await reads.state(request.app, moment)
    return web.Response(body=body, content_type="application/json")


async def state_diff(request: web.Request) -> web.Response:
    """GET /state/diff?from=&to=: what changed per target between two moments."""
    require(request, Role.VIEWER)
    start = params.moment(request, "from", required=True)
    end = params.moment(request, "to", required=False)
    assert start is not None
    return json_response(await reads.diff(request.app, start, end))
