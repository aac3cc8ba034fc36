"""The `audit` projection: each event as a row a person can read (`sql/audit.sql`).

Who did what, where, when, and the trace it belongs to. The table holds what readers
filter on (app, environment, actor, action), one row per event, built inside Postgres
(INSERT ... SELECT over the batch's positions); the sentence, the time and the trace come
from the event itself when a page is read (`ROW`). Rendering a sentence is a pure function
of the event, so doing it for the 50 rows of a page instead of for every event of a
replay costs readers nothing and makes a replay much cheaper. Event types it does not know
still get a row with a generic summary: it never skips an event.
"""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from projections.base import WHOLE_LOG_TIMEOUT, RangeProjection

# One line per event type; `left(x, 12)` shortens SHAs like `git log --oneline`.
_SUMMARY = """
CASE e.type
  WHEN 'App.Registered' THEN 'registered app ' || (d->>'name')
  WHEN 'App.ConfigChanged' THEN 'changed config: ' || coalesce((
      SELECT string_agg(c->>'path', ', ') FROM jsonb_array_elements(d->'diff') c), '')
  WHEN 'App.CommitObserved' THEN 'saw commit ' || left(d->>'sha', 12) || ' by '
      || coalesce(d->>'author', '?') || ': ' || left(split_part(d->>'message', E'\\n', 1), 80)
  WHEN 'App.ReleaseCreated' THEN 'created release #' || (d->>'number') || ' from '
      || left(d->>'sha', 12)
  WHEN 'App.ReleaseRejected' THEN 'rejected ' || left(d->>'sha', 12) || ': '
      || coalesce(d->>'file', '') || ':' || coalesce(d->>'line', '') || ': '
      || coalesce(d->>'reason', '')
  WHEN 'App.HistoryRewritten' THEN 'branch rewritten: ' || left(d->>'old_head', 12) || ' → '
      || left(d->>'new_head', 12)
  WHEN 'Target.Created' THEN 'target created'
  WHEN 'Target.PromotionRequested' THEN 'requested ' || (d->>'kind') || ' promotion '
      || (d->>'promotion_id') || ' of ' || left(d->>'release', 12)
      || CASE WHEN coalesce(d->>'reason', '') <> '' THEN ': ' || (d->>'reason') ELSE '' END
  WHEN 'Target.PolicyOverridden' THEN (d->>'by') || ' overrode '
      || coalesce((SELECT string_agg(r, ', ') FROM jsonb_array_elements_text(d->'rules') r), '')
      || ' for ' || (d->>'promotion_id') || ': ' || coalesce(d->>'reason', '')
  WHEN 'Target.PromotionApproved' THEN (d->>'by') || ' approved ' || (d->>'promotion_id')
  WHEN 'Target.PromotionStarted' THEN 'started ' || (d->>'promotion_id')
      || ': desired release is now ' || left(d->>'release', 12)
  WHEN 'Target.PromotionRejected' THEN (d->>'by') || ' rejected ' || (d->>'promotion_id')
      || ': ' || coalesce(d->>'reason', '')
  WHEN 'Target.PromotionCancelled' THEN (d->>'by') || ' cancelled ' || (d->>'promotion_id')
      || ': ' || coalesce(d->>'reason', '')
  WHEN 'Target.PromotionSuperseded' THEN (d->>'promotion_id') || ' superseded by '
      || coalesce(d->>'by_promotion', '?')
  WHEN 'Target.ReleaseRolledBack' THEN 'rolled back ' || left(d->>'release', 12)
      || ' (' || (d->>'promotion_id') || ')'
  WHEN 'Target.SyncSucceeded' THEN 'applied ' || left(d->>'release', 12) || ' (sync '
      || (d->>'sync_id') || ', ' || coalesce(jsonb_array_length(d->'objects'), 0) || ' objects'
      || coalesce(': ' || (
          SELECT string_agg(n || ' ' || a, ', ' ORDER BY a) FROM (
              SELECT o->>'action' AS a, count(*) AS n FROM jsonb_array_elements(d->'objects') o
               GROUP BY o->>'action') x), '')
      || coalesce((
          SELECT ', ' || sum(coalesce((o->>'attempts')::int, 1) - 1) || ' retries'
            FROM jsonb_array_elements(d->'objects') o
          HAVING sum(coalesce((o->>'attempts')::int, 1) - 1) > 0), '')
      || ')'
  WHEN 'Target.SyncStarted' THEN 'started sync ' || (d->>'sync_id') || ' of '
      || left(d->>'release', 12) || ': ' || (d->>'object_count') || ' objects ('
      || coalesce(d->>'reason', '') || ')'
  WHEN 'Target.SyncFailed' THEN 'sync ' || (d->>'sync_id') || ' failed at '
      || coalesce(d->>'object', '?') || ': ' || coalesce(d->>'reason', '') || ': '
      || coalesce(d->>'message', '')
      || CASE WHEN coalesce((d->>'attempts')::int, 1) > 1
              THEN ' (after ' || (d->>'attempts') || ' attempts)' ELSE '' END
  WHEN 'Target.SyncAbandoned' THEN 'abandoned sync ' || (d->>'sync_id') || ' of '
      || left(d->>'release', 12) || ': ' || coalesce(d->>'reason', '')
  WHEN 'Target.DriftDetected' THEN 'drift in '
      || coalesce(jsonb_array_length(d->'objects'), 0) || ' objects: ' || coalesce((
          SELECT string_agg((o->>'object') || ' (' || coalesce((
              SELECT string_agg(f, ', ') FROM (
                  SELECT f FROM jsonb_array_elements_text(o->'fields') f LIMIT 3) y), '') || ')',
              '; ')
            FROM (SELECT o FROM jsonb_array_elements(d->'objects') o LIMIT 3) x), '')
  WHEN 'Target.DriftCorrected' THEN 'corrected drift of ' || coalesce((
          SELECT string_agg(o, ', ') FROM (
              SELECT o FROM jsonb_array_elements_text(d->'objects') o LIMIT 3) x), '')
      || ' (sync ' || (d->>'sync_id') || ')'
  WHEN 'Target.HealthChanged' THEN 'health ' || coalesce(d->>'previous', '?') || ' → '
      || (d->>'health') || coalesce(': ' || (
          SELECT string_agg(r, '; ') FROM (
              SELECT r FROM jsonb_array_elements_text(d->'reasons') r LIMIT 3) x), '')
  WHEN 'Target.PromotionVerified' THEN 'verified ' || left(d->>'release', 12) || ' ('
      || (d->>'promotion_id') || ')'
  WHEN 'Target.PromotionFailed' THEN (d->>'promotion_id') || ' failed: '
      || coalesce(d->>'reason', '')
END
"""

# What a reader sees of audit row `a`: its event `e` (whose document is `d`) rendered.
ROW = f"""a.position, e.recorded_at, a.app, a.environment, a.actor, a.action,
       e.type AS event_type,
       coalesce({_SUMMARY}, a.action || ' ' || left(d::text, 160)) AS summary,
       substring(e.metadata->>'traceparent' from 4 for 32) AS trace_id,
       e.metadata->>'correlation_id' AS correlation_id, e.stream_id"""
# the joins ROW reads from
ROW_SOURCE = "audit a JOIN events e ON e.position = a.position, LATERAL (SELECT e.data AS d) x"

_INSERT = """
INSERT INTO audit (position, app, environment, actor, action)
SELECT position,
       CASE WHEN stream_id LIKE 'app:%' OR stream_id LIKE 'target:%'
            THEN split_part(stream_id, ':', 2) END,
       CASE WHEN stream_id LIKE 'target:%' THEN split_part(stream_id, ':', 3)
            ELSE data->>'environment' END,
       coalesce(metadata->>'actor', ''),
       split_part(type, '.', 2)
  FROM events
 WHERE position > $1 AND position <= $2
"""


class AuditProjection(RangeProjection):
    """Every event, readable."""

    name: ClassVar[str] = "audit"
    version: ClassVar[int] = 6
    tables: ClassVar[tuple[str, ...]] = ("audit",)

    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        """One INSERT ... SELECT for the positions (after, upto]."""
        await conn.execute(_INSERT, after, upto, timeout=WHOLE_LOG_TIMEOUT)
