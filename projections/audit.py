"""The `audit` projection: each event as a row a person can read (`sql/audit.sql`).

Who did what, where, when, and the trace it belongs to. The table holds what readers
filter on (app, environment, actor, action), one row per event, built inside Postgres
(INSERT ... SELECT over the batch's positions); the time and the trace come from the
event itself when a page is read (`ROW`), and its sentence from `audit_text`. A sentence
is a pure function of the event: rendering the 50 of a page costs readers little, and a
replay no longer renders a million. Event types it does not know still get a row and a
generic summary: it never skips an event.
"""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from engine.store.upcasts import EVENTS_CURRENT
from projections.base import WHOLE_LOG_TIMEOUT, RangeProjection
from projections.feed import events_source, reading

# What a reader gets of audit row `a` and its event `e`; `projections.audit_text` turns
# `data` into the row's summary.
ROW = """a.position, e.recorded_at, a.app, a.environment, a.actor, a.action,
       e.type AS event_type, e.data,
       substring(e.metadata->>'traceparent' from 4 for 32) AS trace_id,
       e.metadata->>'correlation_id' AS correlation_id, e.stream_id"""
# the joins ROW reads from: each event in its current shape (an audit row's event was
# upcast, if it needed it, when the row was written)
ROW_SOURCE = f"audit a JOIN {EVENTS_CURRENT} e ON e.position = a.position"

_INSERT = """
INSERT INTO audit (position, app, environment, actor, action)
SELECT position,
       CASE WHEN stream_id LIKE 'app:%' OR stream_id LIKE 'target:%'
            THEN split_part(stream_id, ':', 2) END,
       CASE WHEN stream_id LIKE 'target:%' THEN split_part(stream_id, ':', 3)
            ELSE data->>'environment' END,
       coalesce(metadata->>'actor', ''),
       split_part(type, '.', 2)
  FROM events
 WHERE position > $1 AND position <= $2
"""


class AuditProjection(RangeProjection):
    """Every event, readable."""

    name: ClassVar[str] = "audit"
    version: ClassVar[int] = 8
    tables: ClassVar[tuple[str, ...]] = ("audit",)

    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        """One INSERT ... SELECT for the positions (after, upto]."""
        source = await events_source(conn, after=after, upto=upto)
        await conn.execute(reading(source, _INSERT), after, upto, timeout=WHOLE_LOG_TIMEOUT)
