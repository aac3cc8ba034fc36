"""The audit log as files to download: JSON lines and CSV, one event a line or a row.

Where it sits: pure formatting between `api.reads.iter_events` (the filtered rows, page
after page) and the download views of `console.views.audit`. A row is what the API's
`/events` answers for an event (`AuditEntry`); both formats carry the same fields.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from api.render import dump_bytes

#: the CSV's columns, in order: every field of an audit row
CSV_COLUMNS = (
    "position",
    "recorded_at",
    "app",
    "environment",
    "actor",
    "action",
    "event_type",
    "summary",
    "stream_id",
    "correlation_id",
    "trace_id",
)


def jsonl_line(row: Mapping[str, Any]) -> bytes:
    """One row as a line of JSON (times in RFC 3339), with its newline."""
    return dump_bytes(dict(row)) + b"\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def csv_header() -> str:
    """The header row, with its line end."""
    return csv_rows([], header=True)


def csv_rows(rows: Iterable[Mapping[str, Any]], *, header: bool = False) -> str:
    """Rows as CSV (RFC 4180: commas, quotes and line breaks inside a field are quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()
