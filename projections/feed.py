"""Reading the log for projections: batches of raw event rows, applied in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from projections.base import EventRow, Projection

_READ = (
    "SELECT position, stream_id, type, schema_version, data, metadata, recorded_at"
    " FROM events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
)
_UNBOUNDED = 2**62


async def read_batch(
    conn: asyncpg.Connection, *, after: int, limit: int, upto: int | None = None
) -> list[EventRow]:
    """Up to `limit` events after `after` (and at most `upto`), in log order."""
    rows: list[EventRow] = await conn.fetch(
        _READ, after, _UNBOUNDED if upto is None else upto, limit
    )
    return rows


async def apply_batch(
    conn: asyncpg.Connection,
    projections: Sequence[Projection],
    *,
    after: int,
    limit: int,
    upto: int | None = None,
) -> int:
    """Feed the next batch to every projection; return the new position (`after` if none)."""
    rows = await read_batch(conn, after=after, limit=limit, upto=upto)
    if not rows:
        return after
    for projection in projections:
        await projection.apply(conn, rows)
    last: int = rows[-1]["position"]
    return last


async def head_position(conn: asyncpg.Connection) -> int:
    """The last position in the log."""
    position: int = await conn.fetchval("SELECT position FROM event_head")
    return position
