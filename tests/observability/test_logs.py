"""Structured logs: one JSON object per line, with the trace and span of the moment, and no
secrets."""

from __future__ import annotations

import json
import logging
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from engine.telemetry import JsonLogFormatter


def _line(message: str, *args: Any) -> dict[str, Any]:
    record = logging.LogRecord("baton.test", logging.WARNING, __file__, 1, message, args, None)
    text = JsonLogFormatter().format(record)
    assert "\n" not in text
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_a_log_line_inside_a_span_names_its_trace_and_span(spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("work") as span:
        line = _line("applied %s", "web")
    context = span.get_span_context()
    assert line["message"] == "applied web" and line["level"] == "warning"
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_outside_a_span_there_is_no_trace_and_secrets_are_masked() -> None:
    line = _line(
        "cannot connect to %s with %s (password=%s)",
        "postgresql://baton:s3cret@db:5432/baton",
        "Bearer abc.def",
        "hunter2",
    )
    assert "trace_id" not in line
    assert "s3cret" not in line["message"] and "abc.def" not in line["message"]
    assert "hunter2" not in line["message"]
    assert "postgresql://baton:***@db:5432/baton" in line["message"]
