"""The audit page: the event log filtered and paged, each event's data and hash, the
filtered set as JSON lines or CSV, and the state of the hash chain.

Where it sits: a console view over the API's reads (`api.reads.events_page`,
`iter_events`, `event_at`, `verify_chain`): the same rows `/api/v1/events` answers.
Newest first; a page goes back from the position before its newest (`before=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from api import params, reads
from api.auth import Role
from api.errors import not_found
from api.guard import require
from api.keys import PRINCIPAL
from console import export, forms
from console.pages import page, render
from engine.domain.vocabulary import EventType

PAGE_SIZE = 50
#: how many rows the CSV download writes at a time
_CSV_BATCH = 200
_TYPES = tuple(t.value for t in EventType)


@dataclass(frozen=True, kw_only=True)
class Filters:
    """The filters of the page, as the form holds them and as the reads take them."""

    query: dict[str, str]
    events: reads.EventFilter
    before: int | None


def filters_of(request: web.Request) -> Filters:
    """The form's filters; 422 naming a field whose value is not valid."""
    events = reads.EventFilter(
        app=forms.text(request, "app"),
        environment=forms.text(request, "environment"),
        actor=forms.text(request, "actor"),
        type=forms.choice(request, "type", _TYPES),
        since=forms.time(request, "since"),
        until=forms.time(request, "until"),
    )
    if events.since and events.until and events.since >= events.until:
        raise params.invalid("since", "must be before until")
    query = {
        name: value
        for name, value in (
            ("app", events.app),
            ("environment", events.environment),
            ("actor", events.actor),
            ("type", events.type),
            ("since", forms.local(events.since)),
            ("until", forms.local(events.until)),
        )
        if value
    }
    return Filters(query=query, events=events, before=forms.position(request, "before", low=1))


def _link(path: str, query: dict[str, str], **more: int) -> str:
    values = {**query, **{k: str(v) for k, v in more.items()}}
    return path + ("?" + urlencode(values) if values else "")


async def _newer(request: web.Request, found: Filters, newest: int) -> str:
    """The link to the page of events just newer than `newest` (the first page's, when
    they are the newest)."""
    newer = await reads.events_page(
        request.app, found.events, limit=PAGE_SIZE, before=None, after=newest
    )
    if newer["next_after"] is None:
        return _link("/audit", found.query)
    return _link("/audit", found.query, before=newer["items"][-1]["position"] + 1)


async def _chain_state(request: web.Request) -> dict[str, Any]:
    caller = request[PRINCIPAL]
    return {
        "verification": await reads.last_verification(request.app),
        "may_verify": caller.allows(Role.ADMIN),
    }


@page()
async def audit(request: web.Request) -> web.StreamResponse:
    """A page of the filtered log, newest first."""
    require(request, Role.VIEWER)
    found = filters_of(request)
    result = await reads.events_page(
        request.app, found.events, limit=PAGE_SIZE, before=found.before, after=None
    )
    items = result["items"]
    older = result["next_before"]
    context: dict[str, Any] = {
        "nav": "audit",
        "items": items,
        "form": found.query,
        "types": _TYPES,
        "older": _link("/audit", found.query, before=older) if older else None,
        "newer": await _newer(request, found, items[0]["position"])
        if found.before is not None and items
        else None,
        "newest": _link("/audit", found.query) if found.before is not None else None,
        "jsonl": _link("/audit.jsonl", found.query),
        "csv": _link("/audit.csv", found.query),
        **await _chain_state(request),
    }
    return render(request, "audit.html", context)


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


@page()
async def audit_event(request: web.Request) -> web.StreamResponse:
    """One event: its data, its metadata and its link in the hash chain."""
    require(request, Role.VIEWER)
    raw = request.match_info["position"]
    if not params.DIGITS.fullmatch(raw) or not 1 <= int(raw) <= params.MAX_POSITION:
        raise not_found("event", f"there is no event at position {raw}")
    event = await reads.event_at(request.app, int(raw))
    if event is None:
        raise not_found("event", f"there is no event at position {raw}")
    context = {
        "nav": "audit",
        "event": event,
        "data": _pretty(event.data),
        "metadata": _pretty(event.metadata.to_json()),
        "hash": event.hash.hex(),
    }
    return render(request, "audit_event.html", context)


@page()
async def verify_now(request: web.Request) -> web.StreamResponse:
    """Recompute the hash chain now (admins); back to the audit page, which shows it."""
    require(request, Role.ADMIN)
    await reads.verify_chain(request.app)
    raise web.HTTPSeeOther("/audit#chain")


def _download(name: str, content_type: str) -> web.StreamResponse:
    return web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        }
    )


@page()
async def audit_jsonl(request: web.Request) -> web.StreamResponse:
    """The filtered log as JSON lines, newest first, streamed page after page."""
    require(request, Role.VIEWER)
    found = filters_of(request)
    response = _download("audit.jsonl", "application/x-ndjson")
    await response.prepare(request)
    async for row in reads.iter_events(request.app, found.events, before=found.before, after=None):
        await response.write(export.jsonl_line(row))
    await response.write_eof()
    return response


@page()
async def audit_csv(request: web.Request) -> web.StreamResponse:
    """The filtered log as CSV with a header row, newest first, streamed."""
    require(request, Role.VIEWER)
    found = filters_of(request)
    response = _download("audit.csv", "text/csv; charset=utf-8")
    await response.prepare(request)
    await response.write(export.csv_header().encode())
    batch: list[dict[str, Any]] = []
    async for row in reads.iter_events(request.app, found.events, before=found.before, after=None):
        batch.append(row)
        if len(batch) == _CSV_BATCH:
            await response.write(export.csv_rows(batch).encode())
            batch.clear()
    await response.write(export.csv_rows(batch).encode())
    await response.write_eof()
    return response
