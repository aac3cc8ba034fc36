"""Reads of the read models, ready for the API: plain dicts, newest first where paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from engine.domain.vocabulary import PROMOTION_ENDS, EventType, sql_list
from engine.store.event_store import PROMOTION_REQUEST
from engine.store.upcasts import EVENTS_CURRENT
from projections import audit, audit_text
from projections.base import short_type

Row = dict[str, Any]


async def list_targets(conn: asyncpg.Connection, app: str | None = None) -> list[Row]:
    """Every target (of one app, when given) with its current state."""
    rows = await conn.fetch(
        "SELECT * FROM targets WHERE $1::text IS NULL OR app = $1 ORDER BY app, environment",
        app,
    )
    return [dict(r) for r in rows]


async def targets_of(conn: asyncpg.Connection, apps: list[str]) -> list[Row]:
    """The targets of `apps` with their current state."""
    rows = await conn.fetch(
        "SELECT * FROM targets WHERE app = ANY($1::text[]) ORDER BY app, environment", apps
    )
    return [dict(r) for r in rows]


async def release_subjects(
    conn: asyncpg.Connection, releases: list[tuple[str, str]]
) -> dict[tuple[str, str], Row]:
    """(app, sha) → the release's number and commit subject, for each of `releases`."""
    rows = await conn.fetch(
        """SELECT r.app, r.sha, r.number, split_part(r.message, E'\\n', 1) AS subject
             FROM unnest($1::text[], $2::text[]) AS k(app, sha)
             JOIN releases r ON r.app = k.app AND r.sha = k.sha""",
        [app for app, _ in releases],
        [sha for _, sha in releases],
    )
    return {(r["app"], r["sha"]): dict(r) for r in rows}


async def promotions_of(conn: asyncpg.Connection, ids: list[str]) -> dict[str, Row]:
    """Promotion id → its row, for each of `ids`."""
    rows = await conn.fetch("SELECT * FROM promotions WHERE id = ANY($1::text[])", ids)
    return {r["id"]: dict(r) for r in rows}


async def list_apps(conn: asyncpg.Connection) -> list[str]:
    """The apps that have a target or a release."""
    # the apps among the releases by one step along their key per app, not by reading
    # every release (tens of thousands on a long log)
    rows = await conn.fetch(
        """WITH RECURSIVE released AS (
               SELECT min(app) AS app FROM releases
               UNION ALL
               SELECT (SELECT min(app) FROM releases WHERE app > r.app)
                 FROM released r WHERE r.app IS NOT NULL)
           SELECT app FROM released WHERE app IS NOT NULL
           UNION SELECT app FROM targets ORDER BY app"""
    )
    return [r["app"] for r in rows]


async def get_promotion(conn: asyncpg.Connection, promotion_id: str) -> Row | None:
    """One promotion with its approvals and outcome."""
    row = await conn.fetchrow("SELECT * FROM promotions WHERE id = $1", promotion_id)
    return dict(row) if row else None


#: the events of a target that concern whatever is in flight there, whichever promotion
_TARGET_WIDE = sql_list(
    EventType.SYNC_STARTED,
    EventType.SYNC_SUCCEEDED,
    EventType.SYNC_FAILED,
    EventType.SYNC_ABANDONED,
    EventType.DRIFT_DETECTED,
    EventType.DRIFT_CORRECTED,
    EventType.HEALTH_CHANGED,
)
# A promotion's events: its request (found by the index of migration 003), then its
# target's stream from there (the stream's unique key) up to the event that ended it, each
# event that names the promotion or concerns the whole target. In their current shape.
_PROMOTION_EVENTS = f"""
WITH {PROMOTION_REQUEST}, ended AS (
    SELECT min(e.stream_version) AS stream_version
      FROM events e, requested r
     WHERE e.stream_id = r.stream_id AND e.stream_version > r.stream_version
       AND e.type IN ({sql_list(*PROMOTION_ENDS)}) AND e.data->>'promotion_id' = $1
)
SELECT e.position, e.type, e.data, e.recorded_at,
       coalesce(e.metadata->>'actor', '') AS actor,
       substring(e.metadata->>'traceparent' from 4 for 32) AS trace_id
  FROM requested r CROSS JOIN ended x
  JOIN {EVENTS_CURRENT} e ON e.stream_id = r.stream_id
 WHERE e.stream_version >= r.stream_version
   AND e.stream_version <= coalesce(x.stream_version, 9223372036854775807)
   AND (e.data->>'promotion_id' = $1 OR e.type IN ({_TARGET_WIDE}))
 ORDER BY e.stream_version
 LIMIT $2
"""


async def promotion_events(
    conn: asyncpg.Connection, promotion_id: str, *, limit: int = 1000
) -> list[Row]:
    """The events of a promotion, oldest first: from its request to its end (or now), the
    ones naming it and its target's syncs, drift and health changes between."""
    rows = await conn.fetch(_PROMOTION_EVENTS, promotion_id, limit)
    return [dict(r) for r in rows]


async def find_promotions(
    conn: asyncpg.Connection,
    *,
    app: str | None,
    environment: str | None,
    phases: list[str] | None,
    id_prefix: str | None,
    limit: int,
) -> list[Row]:
    """The latest promotions that pass every filter given, newest first."""
    rows = await conn.fetch(
        """SELECT * FROM promotions
            WHERE ($1::text IS NULL OR app = $1)
              AND ($2::text IS NULL OR environment = $2)
              AND ($3::text[] IS NULL OR phase = ANY($3::text[]))
              AND ($4::text IS NULL OR starts_with(id, $4))
            ORDER BY requested_at DESC, id LIMIT $5""",
        app,
        environment,
        phases,
        id_prefix,
        limit,
    )
    return [dict(r) for r in rows]


async def list_releases(
    conn: asyncpg.Connection, app: str, *, limit: int = 50, before_number: int | None = None
) -> list[Row]:
    """An app's releases, newest first; page with `before_number`."""
    rows = await conn.fetch(
        "SELECT * FROM releases WHERE app = $1 AND ($2::bigint IS NULL OR number < $2)"
        " ORDER BY number DESC LIMIT $3",
        app,
        before_number,
        limit,
    )
    return [dict(r) for r in rows]


async def lineage_of(conn: asyncpg.Connection, app: str, shas: list[str]) -> list[Row]:
    """Where each of `shas` went (one row per release and environment), with the phase of
    the promotion that took it there: a page of the release matrix in one query."""
    rows = await conn.fetch(
        """SELECT l.*, p.phase FROM release_environments l
             LEFT JOIN promotions p ON p.id = l.promotion_id
            WHERE l.app = $1 AND l.sha = ANY($2::text[])""",
        app,
        shas,
    )
    return [dict(r) for r in rows]


async def verified_releases(conn: asyncpg.Connection, app: str, *, limit: int) -> list[Row]:
    """Per environment, the releases verified there (newest first, `limit` each), with
    their numbers: what a rollback may go back to."""
    rows = await conn.fetch(
        """SELECT environment, sha, number, subject, verified_at FROM (
               SELECT l.environment, l.sha, r.number, l.verified_at,
                      split_part(r.message, E'\\n', 1) AS subject,
                      row_number() OVER (PARTITION BY l.environment
                                         ORDER BY r.number DESC) AS n
                 FROM release_environments l
                 JOIN releases r ON r.app = l.app AND r.sha = l.sha
                WHERE l.app = $1 AND l.verified_at IS NOT NULL) v
            WHERE n <= $2 ORDER BY environment, number DESC""",
        app,
        limit,
    )
    return [dict(r) for r in rows]


async def recent_promotions(
    conn: asyncpg.Connection, app: str, *, per_environment: int
) -> list[Row]:
    """The latest promotions of each of an app's environments, newest first."""
    rows = await conn.fetch(
        """SELECT * FROM (
               SELECT p.*, row_number() OVER (PARTITION BY environment
                                              ORDER BY requested_at DESC) AS n
                 FROM promotions p WHERE app = $1) r
            WHERE n <= $2 ORDER BY environment, requested_at DESC""",
        app,
        per_environment,
    )
    return [dict(r) for r in rows]


async def release_lineage(conn: asyncpg.Connection, app: str, sha: str) -> Row | None:
    """A release and where it went: per environment, when, by whom, approvals, soak, rollback.

    `sha` may be a unique prefix of at least 7 characters.
    """
    if len(sha) < 7 or not sha.isalnum():
        return None
    matches = await conn.fetch(
        "SELECT * FROM releases WHERE app = $1 AND starts_with(sha, $2) LIMIT 2", app, sha
    )
    if len(matches) != 1:
        return None
    release = dict(matches[0])
    environments = await conn.fetch(
        "SELECT * FROM release_environments WHERE app = $1 AND sha = $2 ORDER BY requested_at",
        app,
        release["sha"],
    )
    release["environments"] = [dict(r) for r in environments]
    return release


# The last position recorded before a time, by one step back along the index on
# (recorded_at, position) (0 if none). Time filters become position bounds, which the
# audit's indexes serve: positions and times of the log go up together (the append takes
# its time once it holds the log's head). Filtering on the events' times instead walked
# back through every event after the range, looking for matches it could not have.
_LAST_BEFORE = """(SELECT coalesce((SELECT position FROM events WHERE recorded_at < {}
                                  ORDER BY recorded_at DESC, position DESC LIMIT 1), 0))"""


async def audit_page(
    conn: asyncpg.Connection,
    *,
    app: str | None = None,
    environment: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_position: int | None = None,
    after_position: int | None = None,
    limit: int = 50,
) -> list[Row]:
    """Audit rows matching the filters. Newest first, paged by `before_position`; with
    `after_position` oldest first instead (for tailing)."""
    # Only the filters given are in the statement, so each combination is a statement of
    # its own, with a plan of its own. One statement for all, with `$n IS NULL OR ...`
    # for each filter, had one plan cache per connection: after a few expensive filters
    # Postgres settled on its generic plan, and a filter on an app's environment then took
    # 50 ms instead of 0.6.
    conditions: list[str] = []
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    # a name's index is keyed by its hash (see sql/audit.sql); the name itself is checked too
    for column, value in (
        ("app", app),
        ("actor", actor),
        ("action", short_type(action) if action is not None else None),
    ):
        if value is not None:
            name = arg(value)
            conditions.append(f"hashtext(a.{column}) = hashtext({name}) AND a.{column} = {name}")
    if environment is not None:
        conditions.append(f"a.environment = {arg(environment)}")
    if action is not None and "." in action:
        # A full type is also matched on the event. Postgres would estimate it from the
        # type's share of the whole log on top of the action's (one condition, counted
        # twice), expect a handful of rows, and join all of a rare action's events before
        # sorting them (25 ms); as a function call it is an unknown third, and the newest
        # are read along the action's index until the page is full (0.5 ms).
        conditions.append(f"texteq(e.type, {arg(action)})")
    if since is not None:
        conditions.append(f"a.position > {_LAST_BEFORE.format(arg(since))}")
    if until is not None:
        conditions.append(f"a.position <= {_LAST_BEFORE.format(arg(until))}")
    if before_position is not None:
        conditions.append(f"a.position < {arg(before_position)}")
    if after_position is not None:
        conditions.append(f"a.position > {arg(after_position)}")
    order = "ASC" if after_position is not None else "DESC"
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await conn.fetch(
        f"SELECT {audit.ROW} FROM {audit.ROW_SOURCE} {where}"
        f" ORDER BY a.position {order} LIMIT {arg(limit)}",
        *args,
    )
    return [_audit_row(r) for r in rows]


def _audit_row(record: asyncpg.Record) -> Row:
    row = dict(record)
    data = row.pop("data")
    row["summary"] = audit_text.summary(row["event_type"], data)
    return row


async def targets_by_health(conn: asyncpg.Connection) -> dict[str, int]:
    """How many targets are in each health state."""
    rows = await conn.fetch("SELECT health, count(*) AS n FROM targets GROUP BY health")
    return {r["health"]: int(r["n"]) for r in rows if r["health"] is not None}
