"""Tracing and logging set-up, and the W3C trace context that rides in event metadata.

Tracing exports OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific
variable) is set, and nothing otherwise; the service is `baton` unless `OTEL_SERVICE_NAME`
or `OTEL_RESOURCE_ATTRIBUTES` say else. Asynchronous consumers (projections, appliers)
continue the trace of the event that woke them with `context_of(metadata)`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import traceback
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

P = ParamSpec("P")
R = TypeVar("R")
SERVICE_NAME = "baton"
_PROPAGATOR = TraceContextTextMapPropagator()
tracer = trace.get_tracer("baton")


def tracer_provider(
    *, env: Mapping[str, str] | None = None, processor: SpanProcessor | None = None
) -> TracerProvider:
    """baton's tracer provider; it exports over OTLP/HTTP when an endpoint is set.

    `processor` adds one more span processor (tests pass an in-memory exporter's).
    """
    env = os.environ if env is None else env
    attributes: dict[str, Any] = {}
    if "OTEL_SERVICE_NAME" not in env and "service.name=" not in env.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        attributes["service.name"] = SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
        if env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        else None
    )
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def setup_tracing(
    *, env: Mapping[str, str] | None = None, processor: SpanProcessor | None = None
) -> TracerProvider:
    """Install baton's tracer provider for the process and trace Kubernetes requests.

    Call once at start; hand the provider returned to `shutdown_tracing()` at exit, so that
    the last spans are exported.
    """
    provider = tracer_provider(env=env, processor=processor)
    trace.set_tracer_provider(provider)
    instrument_kubernetes_client()
    return provider


def shutdown_tracing(provider: TracerProvider, *, within: float) -> bool:
    """Export the spans still batched and shut `provider` down; False if `within` seconds
    were not enough (a collector that hangs must not hold up the exit)."""
    # the batch processor exports every 5 s: spans of the last moments exist only in memory.
    # A daemon thread, so that an export stuck past `within` is dropped at exit, not waited for
    done = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
    done.start()
    done.join(within)
    return not done.is_alive()


def traced_command(
    name: str, *positional: str, result: Callable[[Any], Mapping[str, Any]] | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run an async command method in a span `command <name>`.

    `positional` names the method's leading arguments after self (`app`, `environment`,
    ...), which become `baton.<name>` attributes; `result` turns what the command
    returned into more attributes (the promotion id, the release). A failure sets the
    span's status and records the exception.
    """

    def decorate(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(method)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            attributes = {
                f"baton.{key}": str(value)
                for key, value in zip(positional, args[1:], strict=False)
                if isinstance(value, str)
            }
            with tracer.start_as_current_span(f"command {name}", attributes=attributes) as span:
                outcome = await method(*args, **kwargs)
                if result is not None and span.is_recording():
                    span.set_attributes(
                        {f"baton.{k}": v for k, v in result(outcome).items() if v is not None}
                    )
                return outcome

        return run

    return decorate


def instrument_kubernetes_client() -> None:
    """Trace every Kubernetes request: kubernetes-asyncio's HTTP goes through aiohttp.

    Instruments every aiohttp client session created from now on (the only ones baton
    opens are the clusters'); a second call does nothing.
    """
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    instrumentor = AioHttpClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def uninstrument_kubernetes_client() -> None:
    """Undo `instrument_kubernetes_client()` for sessions created from now on."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    instrumentor = AioHttpClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


#: where a trace's id goes in a URL template (`BATON_JAEGER_URL`)
TRACE_ID_FIELD = "{trace_id}"


def trace_url(trace_id: str | None, template: str | None) -> str | None:
    """The trace's page in Jaeger's UI (`BATON_JAEGER_URL`), or None.

    `template` holds `{trace_id}` where the id goes (`https://ui/trace/{trace_id}?uiFind=x`);
    a plain base URL gets `/trace/<id>` appended, as Jaeger's own UI names its pages.
    """
    if not trace_id or not template:
        return None
    if TRACE_ID_FIELD in template:
        return template.replace(TRACE_ID_FIELD, trace_id)
    return f"{template.rstrip('/')}/trace/{trace_id}"


def current_traceparent() -> str | None:
    """The active span as a W3C traceparent, or None outside any sampled span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> otel_context.Context | None:
    """A context whose parent is `traceparent` (None when there is none)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def link_to(traceparent: str | None) -> trace.Link | None:
    """A span link to the span a traceparent names."""
    ctx = context_of(traceparent)
    if ctx is None:
        return None
    span_context = trace.get_current_span(ctx).get_span_context()
    return trace.Link(span_context) if span_context.is_valid else None


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) in a traceparent."""
    if not traceparent or len(traceparent) < 35:
        return None
    return traceparent[3:35]


_SECRETS = (
    # a password in a URL (postgresql://user:secret@host), a bearer token, key=value secrets
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"(?i)\b(password|passwd|secret|token|api_key)(\s*[=:]\s*)[^\s,;&]+"), r"\1\2***"),
)


def redact(text: str) -> str:
    """`text` with passwords in URLs, bearer tokens and `secret=...` values masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span of the record's context; secrets
    that slip into a message (a database URL, a token) are masked."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = f"{span_context.trace_id:032x}"
            entry["span_id"] = f"{span_context.span_id:016x}"
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextLogFormatter(logging.Formatter):
    """One readable line per record, for a terminal: time, level, logger, message; an
    exception shrinks to its type, message and innermost frame (the JSON form keeps all)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of text."""
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f" | {type(exc).__name__}: {exc}"
            frames = traceback.extract_tb(exc.__traceback__)
            if frames:
                line += f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})"
        return redact(" ".join(line.split()))


def setup_logging(level: str | None = None) -> None:
    """One line per record on stderr: JSON, or readable text when stderr is a terminal.

    `BATON_LOG_FORMAT` (`json` or `text`) overrides the choice (`docker run -t` gives a
    terminal whose output still goes to a log); the level is `BATON_LOG_LEVEL` (INFO).
    """
    handler = logging.StreamHandler()
    chosen = os.environ.get("BATON_LOG_FORMAT", "").lower()
    text = chosen == "text" or (chosen != "json" and handler.stream.isatty())
    handler.setFormatter(TextLogFormatter() if text else JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("BATON_LOG_LEVEL", "INFO")).upper())
    # asyncpg logs a traceback at every try to refill a pool while the server is away; the
    # supervised tasks already say once that the database went and once that it came back
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
