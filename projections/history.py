"""The `history` projection: periods of desired and applied releases (`sql/history.sql`).

A period opens when a target's desired release changes (PromotionStarted) or its applied
release changes (SyncSucceeded with another release), and closes when the next one
opens. Computed set-wise inside Postgres for each batch of positions.
"""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from projections.base import WHOLE_LOG_TIMEOUT, RangeProjection

# A change that repeats the release already current is no period: comparing with the
# previous change in the batch (or the open period) is enough, because a repeated change
# carries the same release as the current one. The big table only ever gets inserts.
_APPLY = """
WITH changes AS (
    SELECT split_part(stream_id, ':', 2) AS app, split_part(stream_id, ':', 3) AS environment,
           CASE type WHEN 'Target.PromotionStarted' THEN 'desired' ELSE 'applied' END AS kind,
           data->>'release' AS release, recorded_at, position,
           coalesce(metadata->>'actor', '') AS actor, data->>'promotion_id' AS promotion_id
      FROM events
     WHERE position > $1 AND position <= $2
       AND type IN ('Target.PromotionStarted', 'Target.SyncSucceeded')
),
effective AS (
    SELECT c.*
      FROM (SELECT *, lag(release) OVER w AS previous
              FROM changes WINDOW w AS (PARTITION BY app, environment, kind ORDER BY position)
           ) c
      LEFT JOIN target_history_open o USING (app, environment, kind)
     WHERE c.release IS DISTINCT FROM coalesce(c.previous, o.release)
),
periods AS (
    SELECT *, lead(recorded_at) OVER w AS valid_to, lead(position) OVER w AS to_position
      FROM effective WINDOW w AS (PARTITION BY app, environment, kind ORDER BY position)
),
firsts AS (
    SELECT DISTINCT ON (app, environment, kind) app, environment, kind, recorded_at, position
      FROM effective ORDER BY app, environment, kind, position
),
ended AS (
    INSERT INTO target_history (app, environment, kind, release, valid_from, valid_to,
                                from_position, to_position, actor, promotion_id)
    SELECT o.app, o.environment, o.kind, o.release, o.valid_from, f.recorded_at,
           o.from_position, f.position, o.actor, o.promotion_id
      FROM target_history_open o JOIN firsts f USING (app, environment, kind)
    UNION ALL
    SELECT app, environment, kind, release, recorded_at, valid_to, position, to_position,
           actor, promotion_id
      FROM periods WHERE to_position IS NOT NULL
)
INSERT INTO target_history_open (app, environment, kind, release, valid_from, from_position,
                                 actor, promotion_id)
SELECT app, environment, kind, release, recorded_at, position, actor, promotion_id
  FROM periods WHERE to_position IS NULL
ON CONFLICT (app, environment, kind) DO UPDATE
   SET release = EXCLUDED.release, valid_from = EXCLUDED.valid_from,
       from_position = EXCLUDED.from_position, actor = EXCLUDED.actor,
       promotion_id = EXCLUDED.promotion_id
"""


class HistoryProjection(RangeProjection):
    """When each release was desired and applied, per target."""

    name: ClassVar[str] = "history"
    version: ClassVar[int] = 5
    tables: ClassVar[tuple[str, ...]] = ("target_history", "target_history_open")
    index_only: ClassVar[tuple[str, ...]] = ("target_history",)

    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        """Close the open period of each change, open the new ones; one statement."""
        await conn.execute(_APPLY, after, upto, timeout=WHOLE_LOG_TIMEOUT)
