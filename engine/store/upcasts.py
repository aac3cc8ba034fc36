"""Events in their current shape for readers in SQL: `event_upcasts` and `events_current`.

Where it sits: beside the store's reads. The store's Python readers upcast each row as
they read it (`row_to_event`); readers in SQL (the projections, their queries) read the view
`events_current` (migration 009), whose data comes from `event_upcasts` for each event
stored at an older schema version. This module fills that table with the same upcaster:
`fill` searches the log up to its head (at start-up, before each rebuild or verify),
`fill_range` one batch of positions (the projection feed, for events appended in an older
shape since, by an older baton process still running). How far the log has been searched
for the current versions is kept, so a search never reads the same positions twice.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
import orjson

from engine.store.types import Upcaster

#: the relation readers in SQL read events from: the log as stored, and in current shape
EVENTS = "events"
EVENTS_CURRENT = "events_current"
_LOCK = 0x0BA7_0004  # one whole-log search at a time
_BATCH = 5000
# The events in (after, upto] stored older than their type's current version ($3, $4) and
# not upcast to it yet. Along the positions' index: a range of them, never the whole log.
_OLDER = """
SELECT e.position, e.type, e.schema_version, e.data
  FROM events e
  JOIN unnest($3::text[], $4::integer[]) AS c (type, version)
    ON c.type = e.type AND e.schema_version < c.version
 WHERE e.position > $1 AND e.position <= $2
   AND NOT EXISTS (SELECT 1 FROM event_upcasts u
                    WHERE u.position = e.position AND u.schema_version >= c.version)
 ORDER BY e.position
"""
# a row upcast by older code (a lower version) is replaced, never one by newer code
_STORE = """
INSERT INTO event_upcasts (position, schema_version, data)
SELECT p, v, d::jsonb FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u (p, v, d)
ON CONFLICT (position) DO UPDATE SET schema_version = EXCLUDED.schema_version,
                                     data = EXCLUDED.data
 WHERE event_upcasts.schema_version < EXCLUDED.schema_version
"""


class UpcastFailed(Exception):
    """An event stored in an older shape that its upcasters cannot read."""

    def __init__(self, position: int, type_name: str, version: int, cause: Exception) -> None:
        self.position = position
        super().__init__(
            f"event at position {position} ({type_name}, version {version}) cannot be "
            f"upcast: {type(cause).__name__}: {cause}"
        )


def versions_key(versions: Mapping[str, int]) -> str:
    """The current versions as `event_upcasts_searched` keys them: `A.B=2,C.D=3`."""
    return ",".join(f"{name}={version}" for name, version in sorted(versions.items()))


async def fill(conn: asyncpg.Connection, upcaster: Upcaster) -> int:
    """Upcast every event up to the head stored older than its current version (those
    after the last search only); returns how many were upcast."""
    versions = upcaster.current_versions()
    if not versions:
        return 0
    key = versions_key(versions)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        head: int = await conn.fetchval("SELECT position FROM event_head")
        searched: int = await conn.fetchval(
            "SELECT coalesce((SELECT position FROM event_upcasts_searched WHERE versions = $1), 0)",
            key,
        )
        count = 0
        if searched < head:
            # a cursor: the first search of a long log meets every old event of it
            rows = []
            async for row in conn.cursor(_OLDER, searched, head, *_arrays(versions)):
                rows.append(row)
                if len(rows) == _BATCH:
                    count += await _store(conn, upcaster, rows)
                    rows = []
            count += await _store(conn, upcaster, rows)
        await conn.execute(
            "INSERT INTO event_upcasts_searched (versions, position) VALUES ($1, $2)"
            " ON CONFLICT (versions) DO UPDATE SET position = greatest("
            "event_upcasts_searched.position, EXCLUDED.position)",
            key,
            head,
        )
    return count


async def fill_range(
    conn: asyncpg.Connection, upcaster: Upcaster, *, after: int, upto: int
) -> bool:
    """Upcast the events in (after, upto] stored older than their current version; True
    when any event there has its current shape in `event_upcasts` (read `events_current`)."""
    versions = upcaster.current_versions()
    if not versions:
        return False
    key = versions_key(versions)
    known = await conn.fetchrow(
        "SELECT (SELECT position FROM event_upcasts_searched WHERE versions = $1) AS searched,"
        " EXISTS (SELECT 1 FROM event_upcasts WHERE position > $2 AND position <= $3)"
        " AS upcast",
        key,
        after,
        upto,
    )
    start = max(after, known["searched"] or 0)
    if known["upcast"] or start >= upto:
        return bool(known["upcast"])
    if await _store(conn, upcaster, await conn.fetch(_OLDER, start, upto, *_arrays(versions))):
        return True
    # Found none to upcast: another transaction may have upcast them and committed since
    # the first look (each statement sees the latest commits); reading `events` now would
    # hand their older shape to the projection.
    upcast: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM event_upcasts WHERE position > $1 AND position <= $2)",
        after,
        upto,
    )
    return upcast


def _arrays(versions: Mapping[str, int]) -> tuple[list[str], list[int]]:
    names = sorted(versions)
    return names, [versions[name] for name in names]


async def _store(conn: asyncpg.Connection, upcaster: Upcaster, rows: list[asyncpg.Record]) -> int:
    if not rows:
        return 0
    positions, numbers, documents = [], [], []
    for row in rows:
        try:
            version, data = upcaster.current(row["type"], row["schema_version"], row["data"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UpcastFailed(row["position"], row["type"], row["schema_version"], exc) from exc
        positions.append(row["position"])
        numbers.append(version)
        documents.append(orjson.dumps(data).decode())
    await conn.execute(_STORE, positions, numbers, documents)
    return len(rows)
