"""How the read commands print: a table for people, `-o wide` for more columns, `-o
json|yaml` for scripts.

Where it sits: under every read command (`baton.cli.reads`, `baton.cli.listings`,
`baton.cli.insights`, ...). In JSON and YAML every time is RFC 3339 in UTC
(`2026-11-26T08:00:00Z`), whatever zone the server wrote it in, and a list is
`{"items": [...]}` (docs/cli-output.md is the documented shape); a table shows a time in
the local zone with its offset and an age (`when`), or the age alone (`age`) where a
column is narrow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

#: what `-o` takes; `table` and `wide` are for people, `json` and `yaml` for scripts
FORMATS = ("table", "wide", "json", "yaml")

OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="A table, a wider table (full ids, traces, reasons), or every field as JSON or "
    "YAML (times in RFC 3339, UTC; see docs/cli-output.md).",
)

#: keys whose values are times, besides `at` and `..._at`
_TIME_KEYS = frozenset({"since", "until", "start", "last_success"})


def is_data(output: str) -> bool:
    """True when `output` asks for data (JSON or YAML) rather than a table."""
    return output in ("json", "yaml")


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def rfc3339(value: Any) -> str | None:
    """A time the API gave as RFC 3339 in UTC with a `Z`, or None when it is none."""
    parsed = _when(value)
    if parsed is None:
        return None
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _is_time_key(key: str) -> bool:
    return key == "at" or key.endswith(("_at", "_since")) or key in _TIME_KEYS


def in_utc(value: Any, key: str = "") -> Any:
    """`value` with every time in it (a field named `at`, `..._at`, `..._since`, `since`,
    `until`, `start`) in UTC."""
    if isinstance(value, dict):
        return {k: in_utc(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [in_utc(v, key) for v in value]
    if _is_time_key(key) and _when(value) is not None:
        return rfc3339(value)
    return value


def dump(value: Any, output: str) -> str:
    """`value` as JSON (one line when `output` is `jsonl`) or YAML, its times in UTC."""
    import json

    data = in_utc(value)
    if output == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output == "jsonl":
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def print_data(value: Any, output: str) -> None:
    """`value` as JSON or YAML on stdout, its times in UTC."""
    click.echo(dump(value, output), nl=False)


def age(value: Any, now: datetime | None = None) -> str:
    """How long ago a time the API gave was: `12s ago`, `4m ago`, `3h ago`, `2d ago`."""
    parsed = _when(value)
    if parsed is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - parsed).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def local(value: Any) -> str:
    """A time in the local zone with its offset: `2026-12-07 23:14:05 +01:00`; `-` for none."""
    parsed = _when(value)
    if parsed is None:
        return "-"
    shown = parsed.astimezone()
    offset = shown.strftime("%z")  # +0100; RFC 3339 and people write +01:00
    return f"{shown:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def when(value: Any, now: datetime | None = None) -> str:
    """A time as every table shows it: `2026-12-07 23:14:05 +01:00 (4m ago)`; `-` for none."""
    if _when(value) is None:
        return "-"
    return f"{local(value)} ({age(value, now)})"
