"""The `state` projection built set-wise inside Postgres, for a rebuild into empty tables.

The Python handlers in `state.py` are the definition; this computes the same rows from the
whole log at once, because pushing a million events through Python one by one is what
made replays slow. Most fields are "the last event of some kind" per target or
promotion. Two things depend on order, and are derived with running window aggregates:

- the promotion a target works on when an event happens (its last request), which decides
  whether a finish moves the target's phase;
- whether a sync moves a promotion to `synced`: only the first sync of the promotion's
  release after the target's phase became `started`.

A property test rebuilds with this and compares with the live, batch-by-batch handlers.
"""

from __future__ import annotations

import asyncpg

from engine.domain.enums import Health, PromotionPhase, SyncStatus
from projections.base import WHOLE_LOG_TIMEOUT
from projections.feed import events_source, reading
from projections.jsontext import iso_utc

_REQUESTED = "'Target.PromotionRequested'"
_STARTED = "'Target.PromotionStarted'"
_SYNCED = "'Target.SyncSucceeded'"
_VERIFIED = "'Target.PromotionVerified'"
_APPROVED = "'Target.PromotionApproved'"
_OVERRIDDEN = "'Target.PolicyOverridden'"
#: the events that end a promotion, and the phase each ends it in
FINISHED = {
    "Target.PromotionRejected": PromotionPhase.REJECTED,
    "Target.PromotionCancelled": PromotionPhase.CANCELLED,
    "Target.PromotionSuperseded": PromotionPhase.SUPERSEDED,
    "Target.PromotionFailed": PromotionPhase.FAILED,
}
_FINISHED_TYPES = ", ".join(f"'{t}'" for t in FINISHED)
# the event types after which the target's sync status is known from that event alone
_STATUS_TYPES = (
    "'Target.PromotionStarted', 'Target.SyncSucceeded', 'Target.SyncStarted',"
    " 'Target.SyncFailed', 'Target.SyncAbandoned', 'Target.DriftDetected',"
    " 'Target.DriftCorrected'"
)
# a phase for each finishing event type, and the outcome text the handlers write
_FINISHED_PHASE = (
    "CASE type "
    + " ".join(f"WHEN '{t}' THEN '{p.value}'" for t, p in FINISHED.items())
    + f" WHEN 'Target.PromotionVerified' THEN '{PromotionPhase.COMPLETED.value}' END"
)
# Python's f-strings print a missing value as "None"
_OUTCOME = """CASE type
  WHEN 'Target.PromotionVerified' THEN 'verified'
  WHEN 'Target.PromotionSuperseded' THEN 'superseded by '
       || coalesce(data->>'by_promotion', 'None')
  WHEN 'Target.PromotionFailed' THEN coalesce(data->>'reason', 'None')
  ELSE lower(substr(type, 17)) || ' by ' || coalesce(data->>'by', 'None') || ': '
       || coalesce(data->>'reason', 'None')
END"""
# how the handlers' JSON writes an approval's time
_ISO_AT = iso_utc("at")

_LOAD = f"""
WITH ev AS MATERIALIZED (
    -- One pass over the log; whole documents only for the rarer events that need them.
    -- Health changes, the most frequent events, matter only as each target's last one:
    -- those are looked up per target (see `known`). Keys are in the "C" collation: the
    -- many sorts and groupings below then compare bytes rather than call the locale's
    -- strcoll, which is several times slower (equality is the same either way).
    SELECT position, stream_id COLLATE "C" AS stream_id, type COLLATE "C" AS type,
           recorded_at, metadata->>'actor' AS actor,
           (data->>'promotion_id') COLLATE "C" AS promotion_id,
           (data->>'release') COLLATE "C" AS release,
           (data->>'at')::timestamptz AS at,
           CASE WHEN type IN ({_REQUESTED}, {_APPROVED}, {_OVERRIDDEN}, {_FINISHED_TYPES},
                             'App.ReleaseCreated') THEN data END AS data,
           CASE WHEN type = {_REQUESTED}
                THEN substring(metadata->>'traceparent' from 4 for 32) END AS trace_id
      FROM events
     WHERE position <= $1 AND type <> 'Target.HealthChanged'
       AND (stream_id LIKE 'target:%' OR type = 'App.ReleaseCreated')
), requests AS MATERIALIZED (
    SELECT position, stream_id, split_part(stream_id, ':', 2) AS app,
           split_part(stream_id, ':', 3) AS environment, promotion_id AS id, release,
           (data->>'release_number')::int AS release_number, data->>'kind' AS kind,
           data->>'requested_by' AS requested_by, at AS requested_at,
           data->>'reason' AS reason, data->>'from_environment' AS from_environment,
           (data->>'approvals_required')::int AS approvals_required, trace_id
      FROM ev WHERE type = {_REQUESTED} AND stream_id LIKE 'target:%'
), current_finishes AS MATERIALIZED (
    -- a finish moves the target's phase only when it ends the target's latest request
    SELECT f.position
      FROM (SELECT position, type, promotion_id,
                   max(position) FILTER (WHERE type = {_REQUESTED})
                       OVER (PARTITION BY stream_id ORDER BY position) AS request_at
              FROM ev WHERE type IN ({_REQUESTED}, {_FINISHED_TYPES})
               AND stream_id LIKE 'target:%') f
      JOIN requests r ON r.position = f.request_at
     WHERE f.type <> {_REQUESTED} AND f.promotion_id = r.id
), phases AS MATERIALIZED (
    -- head_at: the target's last phase change (sync aside) at or before each event
    SELECT e.position, e.stream_id, e.type, e.release, e.at,
           max(e.position) FILTER (WHERE e.type = {_REQUESTED}) OVER w AS request_at,
           max(e.position) FILTER (WHERE e.type = {_STARTED}) OVER w AS started_at,
           max(e.position) FILTER (
               WHERE e.type IN ({_REQUESTED}, {_STARTED}, {_VERIFIED}) OR c.position IS NOT NULL
           ) OVER w AS head_at
      FROM ev e LEFT JOIN current_finishes c ON c.position = e.position
     WHERE e.type IN ({_REQUESTED}, {_STARTED}, {_VERIFIED}, {_SYNCED}, {_FINISHED_TYPES})
       AND e.stream_id LIKE 'target:%'
    WINDOW w AS (PARTITION BY e.stream_id ORDER BY e.position)
), synced AS MATERIALIZED (
    -- a sync moves the promotion (and the target) to `synced` when the phase is `started`
    -- and it applied the promotion's release: the first such sync after the start
    SELECT DISTINCT ON (s.head_at) s.position, s.stream_id, r.id AS promotion_id, s.at
      FROM phases s JOIN requests r ON r.position = s.request_at
     WHERE s.type = {_SYNCED} AND s.head_at = s.started_at AND s.release = r.release
     ORDER BY s.head_at, s.position
), approvals AS (
    SELECT promotion_id AS id, max(position) AS position,
           jsonb_agg(jsonb_build_object('by', data->>'by', 'at', {_ISO_AT},
                                        'comment', data->>'comment') ORDER BY position) AS list
      FROM ev WHERE type = {_APPROVED} GROUP BY promotion_id
), overrides AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, data->'rules' AS rules,
           data->>'by' AS by, data->>'reason' AS reason
      FROM ev WHERE type = {_OVERRIDDEN} ORDER BY promotion_id, position DESC
), starts AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at
      FROM ev WHERE type = {_STARTED} ORDER BY promotion_id, position DESC
), syncs AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at
      FROM synced ORDER BY promotion_id, position DESC
), finishes AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at,
           {_FINISHED_PHASE} AS phase, {_OUTCOME} AS outcome
      FROM ev WHERE type IN ({_VERIFIED}, {_FINISHED_TYPES})
     ORDER BY promotion_id, position DESC
), promotion_rows AS MATERIALIZED (
    SELECT r.id, r.app, r.environment, r.release, r.release_number, r.kind,
           CASE greatest(r.position, st.position, sy.position, f.position)
                WHEN f.position THEN f.phase
                WHEN sy.position THEN '{PromotionPhase.SYNCED.value}'
                WHEN st.position THEN '{PromotionPhase.STARTED.value}'
                ELSE '{PromotionPhase.AWAITING_APPROVAL.value}' END AS phase,
           r.requested_by, r.requested_at, r.reason, r.from_environment,
           r.approvals_required, coalesce(a.list, '[]') AS approvals,
           coalesce(o.rules, '[]') AS overrides, o.by AS override_by,
           o.reason AS override_reason, st.at AS started_at, sy.at AS synced_at,
           f.at AS finished_at, f.outcome, r.trace_id,
           greatest(r.position, a.position, o.position, st.position, sy.position, f.position)
      FROM requests r
      LEFT JOIN approvals a USING (id) LEFT JOIN overrides o USING (id)
      LEFT JOIN starts st USING (id) LEFT JOIN syncs sy USING (id)
      LEFT JOIN finishes f USING (id)
), new_promotions AS (
    INSERT INTO promotions SELECT * FROM promotion_rows
), last AS (
    SELECT stream_id, max(position) FILTER (WHERE type = {_STARTED}) AS started,
           max(position) FILTER (WHERE type = {_SYNCED}) AS synced,
           max(position) FILTER (WHERE type = {_VERIFIED}) AS verified,
           max(position) FILTER (WHERE type IN ({_STATUS_TYPES})) AS status,
           max(position) FILTER (WHERE type = {_REQUESTED}) AS request
      FROM ev WHERE stream_id LIKE 'target:%' GROUP BY stream_id
), known AS (
    SELECT l.*, e.position, e.recorded_at, e.actor, hc.health, d.release AS desired,
           (SELECT data->>'release' FROM events WHERE position = l.synced) AS applied,
           (SELECT type FROM events WHERE position = l.status) AS status_type,
           h.head, sy.position AS phase_synced
      FROM last l
      -- every target stream starts with Target.Created, so each has a row in `last`;
      -- the events' index on stream_id is in the database's collation
      CROSS JOIN LATERAL (
          SELECT position, recorded_at, metadata->>'actor' AS actor FROM events
           WHERE stream_id = l.stream_id COLLATE "default" AND position <= $1
           ORDER BY stream_version DESC LIMIT 1) e
      LEFT JOIN LATERAL (
          SELECT data->>'health' AS health FROM events
           WHERE stream_id = l.stream_id COLLATE "default" AND position <= $1
             AND type = 'Target.HealthChanged'
           ORDER BY stream_version DESC LIMIT 1) hc ON true
      LEFT JOIN requests d
             ON d.id = (SELECT data->>'promotion_id' FROM events WHERE position = l.started)
      LEFT JOIN (SELECT stream_id, max(head_at) AS head FROM phases GROUP BY stream_id) h
             ON h.stream_id = l.stream_id
      LEFT JOIN (SELECT stream_id, max(position) AS position FROM synced GROUP BY stream_id) sy
             ON sy.stream_id = l.stream_id
), new_targets AS (
    INSERT INTO targets
    SELECT split_part(k.stream_id, ':', 2), split_part(k.stream_id, ':', 3), k.desired,
           k.applied,
           coalesce(k.health, '{Health.UNKNOWN.value}'),
           CASE
             WHEN k.status_type IS NULL THEN '{SyncStatus.UNKNOWN.value}'
             WHEN k.status_type = 'Target.SyncStarted' THEN '{SyncStatus.SYNCING.value}'
             WHEN k.status_type = 'Target.SyncFailed' THEN '{SyncStatus.FAILED.value}'
             WHEN k.status_type IN ({_SYNCED}, 'Target.DriftCorrected')
                  AND k.applied IS NOT DISTINCT FROM k.desired THEN '{SyncStatus.SYNCED.value}'
             ELSE '{SyncStatus.OUT_OF_SYNC.value}' END,
           r.id, r.release,
           CASE WHEN k.phase_synced > k.head THEN '{PromotionPhase.SYNCED.value}'
                ELSE (SELECT CASE WHEN type = {_REQUESTED}
                                  THEN '{PromotionPhase.AWAITING_APPROVAL.value}'
                                  WHEN type = {_STARTED} THEN '{PromotionPhase.STARTED.value}'
                                  ELSE {_FINISHED_PHASE} END
                        FROM events WHERE position = k.head) END,
           (SELECT data->>'release' FROM events WHERE position = k.verified),
           k.position, k.recorded_at, coalesce(k.actor, '')
      FROM known k LEFT JOIN requests r ON r.position = k.request
), new_releases AS (
    INSERT INTO releases
    SELECT DISTINCT ON (substr(stream_id, 5), data->>'sha')
           substr(stream_id, 5), data->>'sha', (data->>'number')::int, data->>'digest',
           data->>'message', data->>'author', (data->>'committed_at')::timestamptz,
           recorded_at, position
      FROM ev WHERE type = 'App.ReleaseCreated'
     ORDER BY substr(stream_id, 5), data->>'sha', position DESC
), latest AS (
    -- A release's row in an environment follows its last request there: the handlers
    -- write the same fields to it as to that promotion, and reset it on a new request.
    SELECT DISTINCT ON (app, release, environment) *
      FROM requests ORDER BY app, release, environment, position DESC
), verified AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at
      FROM ev WHERE type = {_VERIFIED} ORDER BY promotion_id, position DESC
), soaks AS (
    -- the sync before the verification is the one the soak counted from
    SELECT DISTINCT ON (v.id) v.id, extract(epoch FROM v.at - s.at)::double precision AS seconds
      FROM verified v JOIN synced s ON s.promotion_id = v.id AND s.position < v.position
     ORDER BY v.id, s.position DESC
), rollbacks AS (
    SELECT DISTINCT ON (stream_id, release) stream_id, release, position, recorded_at, actor,
           promotion_id
      FROM ev WHERE type = 'Target.ReleaseRolledBack'
     ORDER BY stream_id, release, position DESC
)
INSERT INTO release_environments
SELECT l.app, l.release, l.environment, l.id, l.kind, l.requested_by, l.requested_at,
       p.approvals, p.started_at, p.synced_at, v.at, k.seconds, p.outcome,
       b.recorded_at, b.actor, rb.reason
  FROM latest l JOIN promotion_rows p ON p.id = l.id
  LEFT JOIN verified v ON v.id = l.id
  LEFT JOIN soaks k ON k.id = l.id
  LEFT JOIN rollbacks b ON b.stream_id = l.stream_id AND b.release = l.release
                       AND b.position > l.position
  LEFT JOIN requests rb ON rb.id = b.promotion_id
"""


async def load(conn: asyncpg.Connection, upto: int) -> None:
    """Fill the empty `state` tables from the events at positions up to `upto`."""
    # Row estimates through a dozen CTEs are guesses (none at all on a log never analysed);
    # a nested loop chosen on a guess of one row where there are 100,000 is quadratic.
    # Hash and merge joins cost little more when the guess is right. (A rebuild turns JIT
    # off: disabling a plan type inflates the cost past its threshold even for a tiny log.)
    await conn.execute("SET LOCAL enable_nestloop = off")
    source = await events_source(conn, after=0, upto=upto)
    await conn.execute(reading(source, _LOAD), upto, timeout=WHOLE_LOG_TIMEOUT)
