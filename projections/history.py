"""The `history` projection: periods of desired and applied releases (`sql/history.sql`).

A period opens when a target's desired release changes (PromotionStarted) or its applied
release changes (SyncSucceeded to another release), and closes when the next one opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg

from projections.base import EventRow, Projection, target_of
from projections.rows import KeyedRows

COLUMNS = (
    "app",
    "environment",
    "kind",
    "release",
    "valid_from",
    "valid_to",
    "from_position",
    "to_position",
    "actor",
    "promotion_id",
)
_KIND_OF = {"Target.PromotionStarted": "desired", "Target.SyncSucceeded": "applied"}


class HistoryProjection(Projection):
    """When each release was desired and applied, per target."""

    name: ClassVar[str] = "history"
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]] = ("target_history",)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[EventRow]) -> None:
        """Close the open period of each change, open a new one."""
        changes = [e for e in events if e["type"] in _KIND_OF]
        if not changes:
            return
        rows = KeyedRows("target_history", ("app", "environment", "kind", "from_position"), COLUMNS)
        open_rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        targets = {target_of(e["stream_id"]) for e in changes}
        for record in await conn.fetch(
            "SELECT * FROM target_history WHERE to_position IS NULL AND (app, environment) IN"
            " (SELECT * FROM unnest($1::text[], $2::text[]))",
            [t[0] for t in targets if t],
            [t[1] for t in targets if t],
        ):
            row = rows.put(dict(record))
            rows.dirty.discard((row["app"], row["environment"], row["kind"], row["from_position"]))
            open_rows[(row["app"], row["environment"], row["kind"])] = row
        for e in changes:
            app, environment = target_of(e["stream_id"])  # type: ignore[misc]
            kind, release = _KIND_OF[e["type"]], e["data"]["release"]
            current = open_rows.get((app, environment, kind))
            if current is not None:
                if current["release"] == release:
                    continue
                current.update(valid_to=e["recorded_at"], to_position=e["position"])
                rows.dirty.add((app, environment, kind, current["from_position"]))
            open_rows[(app, environment, kind)] = rows.put(
                {
                    "app": app,
                    "environment": environment,
                    "kind": kind,
                    "release": release,
                    "valid_from": e["recorded_at"],
                    "valid_to": None,
                    "from_position": e["position"],
                    "to_position": None,
                    "actor": e["metadata"].get("actor", ""),
                    "promotion_id": e["data"].get("promotion_id"),
                }
            )
        await rows.flush(conn)
