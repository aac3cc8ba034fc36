"""Reading the log for projections: batches by position range, applied in one transaction.

Positions are gap-free and commit in order, so a batch is the range (after, after+n]
capped at the head; row projections fetch the rows they want from it, range projections
work on it inside Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from projections.base import EventRow, Projection, RangeProjection, RowProjection


async def head_position(conn: asyncpg.Connection) -> int:
    """The last position in the log."""
    position: int = await conn.fetchval("SELECT position FROM event_head")
    return position


async def read_rows(
    conn: asyncpg.Connection, projection: RowProjection, *, after: int, upto: int
) -> list[EventRow]:
    """The rows in (after, upto] that `projection` wants, with the columns it reads."""
    wanted = f" AND ({projection.rows_wanted})" if projection.rows_wanted else ""
    rows: list[EventRow] = await conn.fetch(
        f"SELECT {projection.columns} FROM events WHERE position > $1 AND position <= $2"
        f"{wanted} ORDER BY position",
        after,
        upto,
    )
    return rows


async def apply_range(
    conn: asyncpg.Connection, projections: Sequence[Projection], *, after: int, upto: int
) -> None:
    """Apply the events in (after, upto] to every projection."""
    for projection in projections:
        if isinstance(projection, RowProjection):
            rows = await read_rows(conn, projection, after=after, upto=upto)
            if rows:
                await projection.apply(conn, rows)
        elif isinstance(projection, RangeProjection):
            await projection.apply_range(conn, after, upto)


async def apply_batch(
    conn: asyncpg.Connection,
    projections: Sequence[Projection],
    *,
    after: int,
    limit: int,
    upto: int | None = None,
) -> int:
    """Apply the next batch of at most `limit` events; return the new position."""
    end = min(await head_position(conn) if upto is None else upto, after + limit)
    if end <= after:
        return after
    await apply_range(conn, projections, after=after, upto=end)
    return end
