"""Tracing and logging set-up, and the W3C trace context that rides in event metadata.

Tracing exports OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific
variable) is set, and nothing otherwise; the service is `baton` unless `OTEL_SERVICE_NAME`
or `OTEL_RESOURCE_ATTRIBUTES` say else. Asynchronous consumers (projections, appliers)
continue the trace of the event that woke them with `context_of(metadata)`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

SERVICE_NAME = "baton"
_PROPAGATOR = TraceContextTextMapPropagator()
tracer = trace.get_tracer("baton")


def setup_tracing(
    *, env: Mapping[str, str] | None = None, processor: SpanProcessor | None = None
) -> TracerProvider:
    """Install baton's tracer provider; export over OTLP/HTTP when an endpoint is set.

    `processor` adds one more span processor (tests pass an in-memory exporter's).
    """
    env = os.environ if env is None else env
    attributes: dict[str, Any] = {}
    if "OTEL_SERVICE_NAME" not in env and "service.name=" not in env.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        attributes["service.name"] = SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if processor is not None:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


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


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span of the record's context."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = f"{span_context.trace_id:032x}"
            entry["span_id"] = f"{span_context.span_id:016x}"
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str | None = None) -> None:
    """JSON lines on stderr; level from `BATON_LOG_LEVEL` (default INFO)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("BATON_LOG_LEVEL", "INFO")).upper())
