"""Reading the log for projections: batches by position range, applied in one transaction.

Positions are gap-free and commit in order, so a batch is the range (after, after+n]
capped at the head; row projections fetch the rows they want from it, range projections
work on it inside Postgres.

Every projection reads events in their current shape: from `events` where the range holds
none stored in an older one (the log of a single code version: no join to pay for, which
a rebuild of a million events would notice), else from the view `events_current`.
`events_source` decides which, upcasting what it meets first; `upcast_log` upcasts the
whole log, at start-up and before each rebuild or verify.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import asyncpg

from engine.codec import EventRegistry
from engine.repository import default_registry
from engine.store import upcasts
from projections.base import EventRow, Projection, RangeProjection, RowProjection

_FROM_EVENTS = re.compile(r"\bFROM events\b")


@cache
def _registry() -> EventRegistry:
    return default_registry()


async def upcast_log(conn: asyncpg.Connection) -> int:
    """Give every event up to the head stored in an older shape its current one in
    `event_upcasts`; returns how many needed it."""
    return await upcasts.fill(conn, _registry())


async def events_source(conn: asyncpg.Connection, *, after: int, upto: int) -> str:
    """The relation to read the events (after, upto] from, in their current shape."""
    if await upcasts.fill_range(conn, _registry(), after=after, upto=upto):
        return upcasts.EVENTS_CURRENT
    return upcasts.EVENTS


@cache
def reading(source: str, sql: str) -> str:
    """`sql`, whose events are read `FROM events`, reading them from `source` instead."""
    return sql if source == upcasts.EVENTS else _FROM_EVENTS.sub(f"FROM {source}", sql)


async def head_position(conn: asyncpg.Connection) -> int:
    """The last position in the log."""
    position: int = await conn.fetchval("SELECT position FROM event_head")
    return position


async def read_rows(
    conn: asyncpg.Connection, projection: RowProjection, *, after: int, upto: int
) -> list[EventRow]:
    """The rows in (after, upto] that `projection` wants, with the columns it reads."""
    wanted = f" AND ({projection.rows_wanted})" if projection.rows_wanted else ""
    source = await events_source(conn, after=after, upto=upto)
    rows: list[EventRow] = await conn.fetch(
        f"SELECT {projection.columns} FROM {source} WHERE position > $1 AND position <= $2"
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
