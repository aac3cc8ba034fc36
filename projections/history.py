"""The `history` projection: periods of desired and applied releases (`sql/history.sql`).

A period opens when a target's desired release changes (PromotionStarted) or its applied
release changes (SyncSucceeded with another release), and closes when the next one
opens; each carries both releases, so an as-of reads one row per target. Computed
set-wise inside Postgres for each batch of positions.
"""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from engine.domain.vocabulary import EventType, sql_list
from projections.base import WHOLE_LOG_TIMEOUT, RangeProjection
from projections.feed import events_source, reading
from projections.jsontext import iso_utc

#: an ended period is filed under each epoch of 2^EPOCH_BITS positions it overlaps
#: (`sql/history.sql`); more bits file fewer copies, and an as-of reads more rows (at a
#: million events 15 bits write 370k rows against 14's 455k, and as-ofs take as long)
EPOCH_BITS = 15

# A change that repeats the release already current is no period: comparing with the
# previous change of its kind in the batch (or the open period) is enough, because a
# repeated change carries the same release as the current one. Each period carries both
# releases: the last change of each kind up to its start, in the batch or else in the
# open period. The big table only ever gets inserts. Targets are keyed in the "C"
# collation, so the window sorts compare bytes, not the locale's order.
_APPLY = f"""
WITH changes AS (
    SELECT split_part(stream_id, ':', 2) COLLATE "C" AS app,
           split_part(stream_id, ':', 3) COLLATE "C" AS environment,
           CASE type WHEN {sql_list(EventType.PROMOTION_STARTED)} THEN 'desired'
                ELSE 'applied' END AS kind,
           data->>'release' AS release, recorded_at, {iso_utc("recorded_at")} AS recorded_iso,
           position, coalesce(metadata->>'actor', '') AS actor,
           data->>'promotion_id' AS promotion_id
      FROM events
     WHERE position > $1 AND position <= $2
       AND type IN ({sql_list(EventType.PROMOTION_STARTED, EventType.SYNC_SUCCEEDED)})
),
effective AS (
    SELECT c.*
      FROM (SELECT *, lag(release) OVER w AS previous
              FROM changes WINDOW w AS (PARTITION BY app, environment, kind ORDER BY position)
           ) c
      LEFT JOIN target_history_open o USING (app, environment)
     WHERE c.release IS DISTINCT FROM coalesce(
               c.previous,
               CASE c.kind WHEN 'desired' THEN o.desired_release ELSE o.applied_release END)
),
starts AS (
    SELECT *,
           max(position) FILTER (WHERE kind = 'desired') OVER w AS desired_at,
           max(position) FILTER (WHERE kind = 'applied') OVER w AS applied_at,
           lead(recorded_at) OVER w AS valid_to, lead(position) OVER w AS to_position
      FROM effective WINDOW w AS (PARTITION BY app, environment ORDER BY position)
),
changed AS (
    SELECT s.app, s.environment, s.kind, s.release, s.actor, s.promotion_id AS change_promotion_id,
           s.recorded_at AS valid_from, s.valid_to, s.position AS from_position, s.to_position,
           CASE WHEN s.desired_at IS NULL THEN o.desired_release ELSE d.release END
               AS desired_release,
           CASE WHEN s.applied_at IS NULL THEN o.applied_release ELSE a.release END
               AS applied_release,
           CASE WHEN s.desired_at IS NULL THEN o.desired_since ELSE d.recorded_at END
               AS desired_since,
           CASE WHEN s.applied_at IS NULL THEN o.applied_since ELSE a.recorded_at END
               AS applied_since,
           CASE WHEN s.desired_at IS NULL THEN {iso_utc("o.desired_since")}
                ELSE d.recorded_iso END AS desired_since_iso,
           CASE WHEN s.applied_at IS NULL THEN {iso_utc("o.applied_since")}
                ELSE a.recorded_iso END AS applied_since_iso,
           CASE WHEN s.desired_at IS NULL THEN o.desired_by ELSE d.actor END AS desired_by,
           CASE WHEN s.desired_at IS NULL THEN o.promotion_id ELSE d.promotion_id END
               AS promotion_id
      FROM starts s
      LEFT JOIN effective d ON d.position = s.desired_at
      LEFT JOIN effective a ON a.position = s.applied_at
      LEFT JOIN target_history_open o ON o.app = s.app AND o.environment = s.environment
),
periods AS (
    -- the target as an as-of answers it, in the API's JSON, written once here rather than
    -- for each of the thousands of targets of every as-of (its times written once a change)
    SELECT c.*, row_to_json(t)::text AS target_json
      FROM changed c,
           LATERAL (SELECT c.app, c.environment, c.desired_release, c.applied_release,
                           c.desired_since_iso AS desired_since,
                           c.applied_since_iso AS applied_since,
                           c.desired_by, c.promotion_id) t
),
firsts AS (
    SELECT DISTINCT ON (app, environment) app, environment, recorded_at, position
      FROM effective ORDER BY app, environment, position
),
closing AS (
    SELECT o.app, o.environment, o.kind, o.release, o.actor, o.change_promotion_id,
           o.valid_from, f.recorded_at AS valid_to, o.from_position, f.position AS to_position,
           o.desired_release, o.applied_release, o.desired_since, o.applied_since,
           o.desired_by, o.promotion_id, o.target_json
      FROM target_history_open o JOIN firsts f USING (app, environment)
    UNION ALL
    SELECT app, environment, kind, release, actor, change_promotion_id, valid_from, valid_to,
           from_position, to_position, desired_release, applied_release, desired_since,
           applied_since, desired_by, promotion_id, target_json
      FROM periods WHERE to_position IS NOT NULL
),
ended AS (
    INSERT INTO target_history
    SELECT app, environment, kind, release, actor, change_promotion_id, valid_from, valid_to,
           from_position, to_position, desired_release, applied_release, desired_since,
           applied_since, desired_by, promotion_id
      FROM closing
),
filed AS (
    INSERT INTO target_history_epochs
    SELECT epoch, from_position, to_position, app, environment, target_json
      FROM closing,
           generate_series((from_position >> {EPOCH_BITS})::int,
                           ((to_position - 1) >> {EPOCH_BITS})::int) AS epoch
     ORDER BY epoch, from_position
)
INSERT INTO target_history_open
    (app, environment, kind, release, actor, change_promotion_id, valid_from, from_position,
     desired_release, applied_release, desired_since, applied_since, desired_by, promotion_id,
     target_json)
SELECT app, environment, kind, release, actor, change_promotion_id, valid_from, from_position,
       desired_release, applied_release, desired_since, applied_since, desired_by, promotion_id,
       target_json
  FROM periods WHERE to_position IS NULL
ON CONFLICT (app, environment) DO UPDATE
   SET kind = EXCLUDED.kind, release = EXCLUDED.release, actor = EXCLUDED.actor,
       change_promotion_id = EXCLUDED.change_promotion_id, valid_from = EXCLUDED.valid_from,
       from_position = EXCLUDED.from_position, desired_release = EXCLUDED.desired_release,
       applied_release = EXCLUDED.applied_release, desired_since = EXCLUDED.desired_since,
       applied_since = EXCLUDED.applied_since, desired_by = EXCLUDED.desired_by,
       promotion_id = EXCLUDED.promotion_id, target_json = EXCLUDED.target_json
"""


class HistoryProjection(RangeProjection):
    """When each release was desired and applied, per target."""

    name: ClassVar[str] = "history"
    #: 10: events stored in an older shape are read upcast (their fields were null before)
    version: ClassVar[int] = 10
    tables: ClassVar[tuple[str, ...]] = (
        "target_history",
        "target_history_open",
        "target_history_epochs",
    )

    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        """Close the open period of each change, open the new ones; one statement."""
        source = await events_source(conn, after=after, upto=upto)
        await conn.execute(reading(source, _APPLY), after, upto, timeout=WHOLE_LOG_TIMEOUT)
