"""Time travel: the state of every target as of a time or a log position, and diffs.

Answered from the temporal `target_history` table by GiST range lookups, never by
replaying the log. A time is the last position recorded by then: the log's times never go
backwards along its positions, so both name the same state.
"""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter
from typing import Any

import asyncpg

from projections.jsontext import iso_utc

Row = dict[str, Any]

# The closed period of each target that contains the position, or its open one. Sorted
# by the caller: Postgres would sort by the locale's collation, at a third of the cost of
# the whole query for a few thousand targets; Python sorts names by code point, as "C" does.
_AS_OF = """
SELECT app, environment, desired_release, applied_release, desired_since, applied_since,
       desired_by, promotion_id
  FROM target_history WHERE positions @> $1::bigint
UNION ALL
SELECT app, environment, desired_release, applied_release, desired_since, applied_since,
       desired_by, promotion_id
  FROM target_history_open WHERE from_position <= $1
"""
_TARGET = itemgetter(0, 1)

# The same rows as one JSON array, in the API's format, written by Postgres: the API sends
# it as it is. Decoding a few thousand rows into dicts and encoding them again cost the
# API process more than the query, and their allocations widened the latencies' tail.
_AS_OF_JSON = f"""
SELECT coalesce(json_agg(json_build_object(
           'app', app, 'environment', environment, 'desired_release', desired_release,
           'applied_release', applied_release,
           'desired_since', {iso_utc("desired_since")},
           'applied_since', {iso_utc("applied_since")},
           'desired_by', desired_by, 'promotion_id', promotion_id)
         ORDER BY app COLLATE "C", environment COLLATE "C"), '[]')::text
  FROM ({_AS_OF}) t
"""

# the last position recorded by then: a walk back along the index on recorded_at, over the
# events recorded at that same instant only (max(position) with a recorded_at filter would
# walk back along positions, visiting every event after the time asked for)
_POSITION_AT = """
SELECT coalesce((SELECT position FROM events WHERE recorded_at <= $1
                  ORDER BY recorded_at DESC, position DESC LIMIT 1), 0)
"""


async def state_as_of(
    conn: asyncpg.Connection, *, at: datetime | None = None, position: int | None = None
) -> list[Row]:
    """Desired and applied release of every target as of `at` or after `position`."""
    rows = await conn.fetch(_AS_OF, await _position(conn, at, position))
    if not rows:
        return []
    # zip over a record's values is twice as fast as dict(record), which looks up each key
    names = list(rows[0].keys())
    return [dict(zip(names, r, strict=True)) for r in sorted(rows, key=_TARGET)]


async def state_as_of_json(
    conn: asyncpg.Connection, *, at: datetime | None = None, position: int | None = None
) -> str:
    """`state_as_of` as the JSON array the API sends."""
    text: str = await conn.fetchval(_AS_OF_JSON, await _position(conn, at, position))
    return text


async def _position(conn: asyncpg.Connection, at: datetime | None, position: int | None) -> int:
    if (at is None) == (position is None):
        raise ValueError("give exactly one of a time or a position")
    if at is not None:
        found: int = await conn.fetchval(_POSITION_AT, at)
        return found
    assert position is not None
    return position


Point = datetime | int


async def _state(conn: asyncpg.Connection, point: Point) -> dict[tuple[str, str], Row]:
    rows = await (
        state_as_of(conn, position=point) if isinstance(point, int) else state_as_of(conn, at=point)
    )
    return {(r["app"], r["environment"]): r for r in rows}


async def state_diff(conn: asyncpg.Connection, *, from_: Point, to: Point) -> list[Row]:
    """Targets whose desired or applied release differs between two points in time."""
    before, after = await _state(conn, from_), await _state(conn, to)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, {}), after.get(key, {})
        for kind in ("desired_release", "applied_release"):
            if old.get(kind) != new.get(kind):
                changes.append(
                    {
                        "app": key[0],
                        "environment": key[1],
                        "field": kind,
                        "from": old.get(kind),
                        "to": new.get(kind),
                    }
                )
    return changes


async def changes_between(
    conn: asyncpg.Connection, *, since: datetime, until: datetime
) -> list[Row]:
    """Every period that began in (since, until]: what changed, where, when, by whom."""
    rows = await conn.fetch(
        "SELECT app, environment, kind, release, valid_from, from_position, actor,"
        " change_promotion_id AS promotion_id FROM target_history"
        " WHERE valid_from > $1 AND valid_from <= $2"
        " UNION ALL"
        " SELECT app, environment, kind, release, valid_from, from_position, actor,"
        " change_promotion_id FROM target_history_open"
        " WHERE valid_from > $1 AND valid_from <= $2"
        " ORDER BY from_position",
        since,
        until,
    )
    return [dict(r) for r in rows]
