"""The audit log's downloads: CSV with a header row whose fields survive commas, quotes
and line breaks; JSON lines, one event a line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from console.export import CSV_COLUMNS, csv_header, csv_rows, jsonl_line

ROW = {
    "position": 7,
    "recorded_at": datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC),
    "app": "shop",
    "environment": "dev",
    "actor": 'eve "the, approver"',
    "action": "PromotionApproved",
    "event_type": "Target.PromotionApproved",
    "summary": "approved, with a comment:\nlooks good",
    "stream_id": "target:shop:dev",
    "correlation_id": None,
    "trace_id": None,
}


def test_the_csv_starts_with_a_header_of_every_column() -> None:
    assert next(csv.reader(io.StringIO(csv_header()))) == list(CSV_COLUMNS)


def test_commas_quotes_and_line_breaks_in_a_field_come_back_as_written() -> None:
    text = csv_header() + csv_rows([ROW])
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["actor"] == 'eve "the, approver"'
    assert row["summary"] == "approved, with a comment:\nlooks good"
    assert '"eve ""the, approver"""' in text  # quoted, its quotes doubled (RFC 4180)


def test_a_missing_value_is_an_empty_field_and_a_time_is_rfc_3339() -> None:
    (row,) = list(csv.DictReader(io.StringIO(csv_header() + csv_rows([ROW]), newline="")))
    assert row["correlation_id"] == ""
    assert row["recorded_at"] == "2026-03-01T12:00:05+00:00"
    assert row["position"] == "7"


def test_a_json_line_is_one_line_even_when_a_field_holds_a_line_break() -> None:
    line = jsonl_line(ROW)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = json.loads(line)
    assert back["summary"] == ROW["summary"] and back["position"] == 7
    assert back["recorded_at"].startswith("2026-03-01T12:00:05")
