"""Who did it and in which trace: the one place that builds EventMetadata from a request.

Where it sits: between a view and a command. The actor is the token's subject; the trace
context is the active OpenTelemetry span's when there is one, else the request's W3C
`traceparent`/`tracestate` headers (ignored when malformed: a bad header must not make a
write fail), so events continue the trace that the caller started.
"""

from __future__ import annotations

import re

from aiohttp import web
from opentelemetry import trace

from api.auth import Principal
from api.keys import PRINCIPAL
from engine.store import EventMetadata
from engine.telemetry import current_traceparent

_TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACESTATE_MAX = 200


def principal(request: web.Request) -> Principal:
    """The authenticated caller (set by the auth middleware)."""
    return request[PRINCIPAL]


def trace_context(request: web.Request) -> tuple[str | None, str | None]:
    """(traceparent, tracestate) for the events this request causes."""
    active = current_traceparent()
    if active is not None:
        span = trace.get_current_span().get_span_context()
        state = span.trace_state.to_header() if span.trace_state else None
        return active, state or None
    parent = request.headers.get("traceparent", "").strip().lower()
    if not _TRACEPARENT.match(parent):
        return None, None
    state = request.headers.get("tracestate", "").strip()
    if not state or len(state) > _TRACESTATE_MAX or not state.isprintable():
        state = ""
    return parent, state or None


def metadata_for(request: web.Request) -> EventMetadata:
    """The metadata of every event a write request causes."""
    parent, state = trace_context(request)
    return EventMetadata(actor=principal(request).subject, traceparent=parent, tracestate=state)
