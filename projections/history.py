"""The `history` projection: periods of desired and applied releases (`sql/history.sql`).

A period opens when a target's desired release changes (PromotionStarted) or its applied
release changes (SyncSucceeded with another release), and closes when the next one
opens. Computed set-wise inside Postgres for each batch of positions.
"""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from projections.base import RangeProjection

# A change that repeats the release already current is no period: comparing with the
# previous change in the batch (or the open period) is enough, because a repeated change
# carries the same release as the current one.
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
current AS (
    SELECT h.app, h.environment, h.kind, h.release
      FROM target_history h
      JOIN (SELECT DISTINCT app, environment, kind FROM changes) c
        USING (app, environment, kind)
     WHERE h.to_position IS NULL
),
effective AS (
    SELECT c.*
      FROM (SELECT *, lag(release) OVER w AS previous
              FROM changes WINDOW w AS (PARTITION BY app, environment, kind ORDER BY position)
           ) c
      LEFT JOIN current o USING (app, environment, kind)
     WHERE c.release IS DISTINCT FROM coalesce(c.previous, o.release)
),
closed AS (
    UPDATE target_history h
       SET valid_to = f.recorded_at, to_position = f.position
      FROM (SELECT DISTINCT ON (app, environment, kind) app, environment, kind, recorded_at,
                   position
              FROM effective ORDER BY app, environment, kind, position) f
     WHERE h.app = f.app AND h.environment = f.environment AND h.kind = f.kind
       AND h.to_position IS NULL
)
INSERT INTO target_history (app, environment, kind, release, valid_from, valid_to,
                            from_position, to_position, actor, promotion_id)
SELECT app, environment, kind, release, recorded_at,
       lead(recorded_at) OVER w, position, lead(position) OVER w, actor, promotion_id
  FROM effective
WINDOW w AS (PARTITION BY app, environment, kind ORDER BY position)
"""


class HistoryProjection(RangeProjection):
    """When each release was desired and applied, per target."""

    name: ClassVar[str] = "history"
    version: ClassVar[int] = 3
    tables: ClassVar[tuple[str, ...]] = ("target_history",)

    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        """Close the open period of each change, open the new ones."""
        await conn.execute(_APPLY, after, upto)
