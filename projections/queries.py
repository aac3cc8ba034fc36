"""Reads of the read models, ready for the API: plain dicts, newest first where paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

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


async def list_promotions(
    conn: asyncpg.Connection, app: str, environment: str | None = None, *, limit: int = 50
) -> list[Row]:
    """The latest promotions of an app (or one of its targets)."""
    rows = await conn.fetch(
        "SELECT * FROM promotions WHERE app = $1 AND ($2::text IS NULL OR environment = $2)"
        " ORDER BY requested_at DESC LIMIT $3",
        app,
        environment,
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


# The last position recorded before the time in parameter {}, by one step back along
# the index on (recorded_at, position) (0 if none). Time filters become position bounds,
# which the audit's indexes serve: positions and times of the log go up together (the
# append takes its time once it holds the log's head). Filtering on the events' times instead walked
# back through every event after the range, looking for matches it could not have.
_LAST_BEFORE = """SELECT coalesce((SELECT position FROM events WHERE recorded_at < ${}
                                 ORDER BY recorded_at DESC, position DESC LIMIT 1), 0)"""


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
    order = "ASC" if after_position is not None else "DESC"
    # `action` is an event type, short (`PromotionApproved`) or full: both filter on the
    # audit's action, which its index serves (a condition on the event's own type could not
    # use it, and an action no event has meant joining the whole log); a full type also
    # has to match the event's.
    event_type = action if action is not None and "." in action else None
    rows = await conn.fetch(
        f"""SELECT {audit.ROW} FROM {audit.ROW_SOURCE}
             WHERE ($1::text IS NULL OR hashtext(a.app) = hashtext($1) AND a.app = $1)
               AND ($2::text IS NULL OR a.environment = $2)
               AND ($3::text IS NULL OR hashtext(a.actor) = hashtext($3) AND a.actor = $3)
               AND ($4::text IS NULL OR hashtext(a.action) = hashtext($4) AND a.action = $4)
               AND ($10::text IS NULL OR e.type = $10)
               AND ($5::timestamptz IS NULL OR a.position > ({_LAST_BEFORE.format(5)}))
               AND ($6::timestamptz IS NULL OR a.position <= ({_LAST_BEFORE.format(6)}))
               AND ($7::bigint IS NULL OR a.position < $7)
               AND ($8::bigint IS NULL OR a.position > $8)
             ORDER BY a.position {order} LIMIT $9""",
        app,
        environment,
        actor,
        short_type(action) if action is not None else None,
        since,
        until,
        before_position,
        after_position,
        limit,
        event_type,
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
