"""DORA insights per app and environment, read from the log over a window.

Where it sits: read side, beside `projections.queries`. The SQL here only fetches the facts
of the window (`events_current`, current shapes); `projections.dora` does the arithmetic
and holds the definitions of the four keys.

Scale: the window becomes a range of log positions by two steps along the index on
(recorded_at, position), as the audit's time filters do; the events in that range are read
along the primary key (or, for one app, along the streams' index) and filtered by type.
A promotion's kind comes from its request, found by the index of migration 003; a
release's commit time from its `App.ReleaseCreated`, read along the app's stream, once
for all the releases deployed in the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from engine.domain.enums import Health
from engine.domain.ids import app_stream, parse_app_stream, parse_target_stream, target_stream
from engine.domain.vocabulary import EventType, sql_list
from projections.dora import Fact, Window, compute

#: the events a key reads
FACT_TYPES = (
    EventType.PROMOTION_REQUESTED,
    EventType.PROMOTION_STARTED,
    EventType.PROMOTION_VERIFIED,
    EventType.PROMOTION_FAILED,
    EventType.RELEASE_ROLLED_BACK,
    EventType.HEALTH_CHANGED,
)
#: the healths that begin or end an incident; other health changes are not read
_HEALTHS = [Health.DEGRADED.value, Health.HEALTHY.value]

_LAST_BEFORE = """coalesce((SELECT position FROM events WHERE recorded_at < {}
                             ORDER BY recorded_at DESC, position DESC LIMIT 1), 0)"""

# The kind of each promotion the window's events name: from its request, wherever in the
# log it is (a manual promotion may wait days for its approval). The type is in the text,
# where the planner matches it to the partial index's predicate.
_KINDS = f"""SELECT data->>'promotion_id' AS promotion_id, data->>'kind' AS kind
               FROM events
              WHERE type = {sql_list(EventType.PROMOTION_REQUESTED)}
                AND data->>'promotion_id' = ANY($1::text[])"""

_COMMITS = f"""SELECT stream_id, data->>'sha' AS sha,
                      (data->>'committed_at')::timestamptz AS committed_at
                 FROM events_current
                WHERE stream_id = ANY($1::text[])
                  AND type = {sql_list(EventType.RELEASE_CREATED)}
                  AND data->>'sha' = ANY($2::text[])"""


def _facts_sql(*, by_stream: bool) -> str:
    """The window's facts; with `by_stream`, only those of the streams in $5."""
    streams = "AND e.stream_id = ANY($5::text[])" if by_stream else ""
    return f"""
        SELECT e.position, e.stream_id, e.type,
               coalesce((e.data->>'at')::timestamptz, e.recorded_at) AS at,
               e.data->>'promotion_id' AS promotion_id, e.data->>'release' AS release,
               e.data->>'kind' AS kind, e.data->>'health' AS health
          FROM events_current e
         WHERE e.position > {_LAST_BEFORE.format("$1")}
           AND e.position <= {_LAST_BEFORE.format("$2")}
           AND e.type = ANY($3::text[])
           AND (e.type <> {sql_list(EventType.HEALTH_CHANGED)}
                OR e.data->>'health' = ANY($4::text[]))
           {streams}
         ORDER BY e.position"""


async def insights(
    conn: asyncpg.Connection,
    *,
    window: Window,
    targets: Sequence[tuple[str, str]],
    only_targets: bool,
) -> list[dict[str, object]]:
    """The four keys of every target (of `targets` alone with `only_targets`)."""
    types = [t.value for t in FACT_TYPES]
    if only_targets:
        streams = [target_stream(app, env) for app, env in targets]
        rows = await conn.fetch(
            _facts_sql(by_stream=True), window.since, window.until, types, _HEALTHS, streams
        )
    else:
        rows = await conn.fetch(
            _facts_sql(by_stream=False), window.since, window.until, types, _HEALTHS
        )
    promotion_ids = sorted({r["promotion_id"] for r in rows if r["promotion_id"]})
    kinds = {r["promotion_id"]: r["kind"] for r in await conn.fetch(_KINDS, promotion_ids)}
    commits = await _commit_times(conn, rows)
    facts = []
    for row in rows:
        located = parse_target_stream(row["stream_id"])
        if located is None:
            continue
        app, environment = located
        promotion_id, release = row["promotion_id"], row["release"]
        facts.append(
            Fact(
                app=app,
                environment=environment,
                type=EventType(row["type"]),
                at=row["at"],
                promotion_id=promotion_id,
                release=release,
                kind=row["kind"] or kinds.get(promotion_id),
                health=row["health"],
                committed_at=commits.get((app, release)) if release else None,
            )
        )
    return compute(facts, window=window, targets=targets)


async def _commit_times(
    conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
) -> dict[tuple[str, str], datetime]:
    """(app, sha) → commit time, for the releases verified among `rows`."""
    verified = EventType.PROMOTION_VERIFIED.value
    wanted = {
        (located[0], r["release"])
        for r in rows
        if r["type"] == verified and r["release"]
        if (located := parse_target_stream(r["stream_id"])) is not None
    }
    if not wanted:
        return {}
    streams = sorted({app_stream(app) for app, _ in wanted})
    shas = sorted({sha for _, sha in wanted})
    found: dict[tuple[str, str], datetime] = {}
    for r in await conn.fetch(_COMMITS, streams, shas):
        app = parse_app_stream(r["stream_id"])
        if app is not None and r["committed_at"] is not None:
            found[(app, r["sha"])] = r["committed_at"]
    return found
