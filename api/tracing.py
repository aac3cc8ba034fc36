"""Tracing on the HTTP side: a server span per request, and trace ids (and Jaeger links) in
the answers about promotions and in audit rows.

Where it sits: `init_app()` calls `instrument_app(app)` before the app is frozen, so every
request — including the ones refused by auth or validation — is one SERVER span, parent
of the command's spans and of the event append; its traceparent goes into the events'
metadata (`api.context`). Views call `with_trace_link()` on what they answer.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from opentelemetry import trace

from api.keys import CONFIG
from engine.telemetry import trace_url

_SERVER_MIDDLEWARE: Any = None


def _server_middleware() -> Any:
    """The aiohttp server instrumentation's middleware, made once per process.

    The instrumentor keeps its settings (tracer, excluded URLs, meters) in module globals
    that only `instrument()` sets; its `uninstrument()` puts `web.Application` back, so
    only the middleware we insert ourselves is left.
    """
    global _SERVER_MIDDLEWARE
    if _SERVER_MIDDLEWARE is None:
        from opentelemetry.instrumentation import aiohttp_server

        instrumentor = aiohttp_server.AioHttpServerInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            with warnings.catch_warnings():  # it subclasses web.Application (deprecated)
                warnings.simplefilter("ignore", DeprecationWarning)
                instrumentor.instrument()
            instrumentor.uninstrument()
        _SERVER_MIDDLEWARE = aiohttp_server.create_aiohttp_middleware()
    return _SERVER_MIDDLEWARE


def instrument_app(app: web.Application) -> None:
    """Make every request of `app` a server span (outermost middleware). Idempotent."""
    middleware = _server_middleware()
    if middleware not in app.middlewares:
        app.middlewares.insert(0, middleware)


def current_trace_id() -> str | None:
    """The active trace's id (32 hex digits), or None outside a sampled span."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def trace_link(app: web.Application, trace_id: str | None) -> str | None:
    """Jaeger's page for `trace_id` when BATON_JAEGER_URL is set (the API's answers and the
    console's pages link to a trace through this one function)."""
    return trace_url(trace_id, app[CONFIG].jaeger_url)


def with_trace_link(app: web.Application, body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with `trace_url` (Jaeger's page for its `trace_id`) when BATON_JAEGER_URL is set."""
    out = dict(body)
    url = trace_link(app, out.get("trace_id"))
    if url is not None:
        out["trace_url"] = url
    return out
