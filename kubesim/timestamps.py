"""Timestamps as the API prints them; shared by the verbs and the controllers."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """Now, in RFC 3339 with seconds, UTC (`2026-01-01T00:00:00Z`)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
