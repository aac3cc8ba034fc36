"""How the listing commands print: a table for people, `-o json|yaml` for scripts.

Where it sits: under `baton.cli.listings`. In JSON and YAML every time is RFC 3339 in
UTC (`2026-11-26T08:00:00Z`), whatever zone the server wrote it in; a table shows a time
as an age ("4m ago").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
    help="A table, or every field as JSON or YAML (times in RFC 3339, UTC).",
)


def _when(value: Any) -> datetime | None:
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


def in_utc(value: Any, key: str = "") -> Any:
    """`value` with every time in it (a field named `at` or `..._at`) in UTC."""
    if isinstance(value, dict):
        return {k: in_utc(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [in_utc(v, key) for v in value]
    if (key == "at" or key.endswith("_at")) and _when(value) is not None:
        return rfc3339(value)
    return value


def print_data(value: Any, output: str) -> None:
    """`value` as JSON or YAML on stdout, its times in UTC."""
    import json

    data = in_utc(value)
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    import yaml

    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


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
