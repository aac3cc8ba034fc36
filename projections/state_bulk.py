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

_REQUESTED = "'Target.PromotionRequested'"
_STARTED = "'Target.PromotionStarted'"
_SYNCED = "'Target.SyncSucceeded'"
_VERIFIED = "'Target.PromotionVerified'"
_FINISHED = {
    "Target.PromotionRejected": PromotionPhase.REJECTED,
    "Target.PromotionCancelled": PromotionPhase.CANCELLED,
    "Target.PromotionSuperseded": PromotionPhase.SUPERSEDED,
    "Target.PromotionFailed": PromotionPhase.FAILED,
}
_FINISHED_TYPES = ", ".join(f"'{t}'" for t in _FINISHED)
# the event types after which the target's sync status is known from that event alone
_STATUS_TYPES = (
    "'Target.PromotionStarted', 'Target.SyncSucceeded', 'Target.SyncStarted',"
    " 'Target.SyncFailed', 'Target.SyncAbandoned', 'Target.DriftDetected',"
    " 'Target.DriftCorrected'"
)
# a phase for each finishing event type, and the outcome text the handlers write
_FINISHED_PHASE = (
    "CASE type "
    + " ".join(f"WHEN '{t}' THEN '{p.value}'" for t, p in _FINISHED.items())
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
# how orjson writes a UTC datetime (isoformat: microseconds only when there are some)
_ISO_AT = """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
  || CASE WHEN extract(microseconds FROM at)::bigint % 1000000 <> 0
          THEN to_char(at AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00'"""

_STATEMENTS = [
    # every target event, with the position of the request the target works on by then
    f"""
CREATE TEMP TABLE bulk_events ON COMMIT DROP AS
SELECT position, stream_id, type, release, promotion_id, at,
       max(position) FILTER (WHERE type = {_REQUESTED}) OVER w AS request_at
  FROM (SELECT position, stream_id, type, data->>'release' AS release,
               data->>'promotion_id' AS promotion_id, (data->>'at')::timestamptz AS at
          FROM events WHERE position <= $1 AND stream_id LIKE 'target:%') e
WINDOW w AS (PARTITION BY stream_id ORDER BY position)
""",
    f"""
CREATE TEMP TABLE bulk_requests ON COMMIT DROP AS
SELECT position, split_part(stream_id, ':', 2) AS app, split_part(stream_id, ':', 3) AS environment,
       data->>'promotion_id' AS id, data->>'release' AS release,
       (data->>'release_number')::int AS release_number, data->>'kind' AS kind,
       data->>'requested_by' AS requested_by, (data->>'at')::timestamptz AS requested_at,
       data->>'reason' AS reason, data->>'from_environment' AS from_environment,
       (data->>'approvals_required')::int AS approvals_required,
       substring(metadata->>'traceparent' from 4 for 32) AS trace_id
  FROM events WHERE position <= $1 AND type = {_REQUESTED} AND stream_id LIKE 'target:%'
""",
    # The target's phase changes with requests, starts, verifications and the finish of
    # its current promotion; `head_at` is the last such change at or before each event.
    f"""
CREATE TEMP TABLE bulk_phases ON COMMIT DROP AS
SELECT e.position, e.stream_id, e.type, e.release, e.at, r.id AS current_id,
       r.release AS current_release,
       max(e.position) FILTER (
           WHERE e.type IN ({_REQUESTED}, {_STARTED}, {_VERIFIED})
              OR (e.type IN ({_FINISHED_TYPES}) AND e.promotion_id = r.id)
       ) OVER (PARTITION BY e.stream_id ORDER BY e.position) AS head_at
  FROM bulk_events e LEFT JOIN bulk_requests r ON r.position = e.request_at
 WHERE e.type IN ({_REQUESTED}, {_STARTED}, {_VERIFIED}, {_SYNCED}, {_FINISHED_TYPES})
""",
    # a sync moves the promotion (and the target) to `synced` when the phase is `started`
    # and it applied the promotion's release: the first such sync after the start
    f"""
CREATE TEMP TABLE bulk_synced ON COMMIT DROP AS
SELECT DISTINCT ON (s.head_at) s.position, s.stream_id, s.current_id AS promotion_id, s.at
  FROM bulk_phases s JOIN bulk_phases h ON h.position = s.head_at
 WHERE s.type = {_SYNCED} AND h.type = {_STARTED} AND s.release = s.current_release
 ORDER BY s.head_at, s.position
""",
    f"""
INSERT INTO promotions
WITH approvals AS (
    SELECT data->>'promotion_id' AS id, max(position) AS position,
           jsonb_agg(jsonb_build_object('by', data->>'by', 'at', {_ISO_AT},
                                        'comment', data->>'comment') ORDER BY position) AS list
      FROM (SELECT *, (data->>'at')::timestamptz AS at FROM events
             WHERE position <= $1 AND type = 'Target.PromotionApproved'
               AND stream_id LIKE 'target:%') a
     GROUP BY 1
), overrides AS (
    SELECT DISTINCT ON (data->>'promotion_id') data->>'promotion_id' AS id, position,
           data->'rules' AS rules, data->>'by' AS by, data->>'reason' AS reason
      FROM events
     WHERE position <= $1 AND type = 'Target.PolicyOverridden' AND stream_id LIKE 'target:%'
     ORDER BY data->>'promotion_id', position DESC
), starts AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at
      FROM bulk_events WHERE type = {_STARTED} ORDER BY promotion_id, position DESC
), syncs AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at
      FROM bulk_synced ORDER BY promotion_id, position DESC
), finishes AS (
    SELECT DISTINCT ON (data->>'promotion_id') data->>'promotion_id' AS id, position,
           (data->>'at')::timestamptz AS at, {_FINISHED_PHASE} AS phase, {_OUTCOME} AS outcome
      FROM events
     WHERE position <= $1 AND type IN ({_VERIFIED}, {_FINISHED_TYPES})
       AND stream_id LIKE 'target:%'
     ORDER BY data->>'promotion_id', position DESC
)
SELECT r.id, r.app, r.environment, r.release, r.release_number, r.kind,
       CASE greatest(r.position, st.position, sy.position, f.position)
            WHEN f.position THEN f.phase
            WHEN sy.position THEN '{PromotionPhase.SYNCED.value}'
            WHEN st.position THEN '{PromotionPhase.STARTED.value}'
            ELSE '{PromotionPhase.AWAITING_APPROVAL.value}' END,
       r.requested_by, r.requested_at, r.reason, r.from_environment, r.approvals_required,
       coalesce(a.list, '[]'), coalesce(o.rules, '[]'), o.by, o.reason,
       st.at, sy.at, f.at, f.outcome, r.trace_id,
       greatest(r.position, a.position, o.position, st.position, sy.position, f.position)
  FROM bulk_requests r
  LEFT JOIN approvals a USING (id) LEFT JOIN overrides o USING (id)
  LEFT JOIN starts st USING (id) LEFT JOIN syncs sy USING (id)
  LEFT JOIN finishes f USING (id)
""",
    f"""
INSERT INTO targets
WITH last AS (
    SELECT stream_id, max(position) AS position,
           max(position) FILTER (WHERE type = {_STARTED}) AS started,
           max(position) FILTER (WHERE type = {_SYNCED}) AS synced,
           max(position) FILTER (WHERE type = 'Target.HealthChanged') AS health,
           max(position) FILTER (WHERE type = {_VERIFIED}) AS verified,
           max(position) FILTER (WHERE type IN ({_STATUS_TYPES})) AS status,
           max(request_at) AS request
      FROM bulk_events GROUP BY stream_id
), phases AS (
    SELECT stream_id, max(head_at) AS head FROM bulk_phases GROUP BY stream_id
), synced AS (
    SELECT stream_id, max(position) AS position FROM bulk_synced GROUP BY stream_id
), known AS (
    SELECT l.*, e.recorded_at, e.metadata->>'actor' AS actor, d.release AS desired,
           (SELECT data->>'release' FROM events WHERE position = l.synced) AS applied,
           (SELECT type FROM events WHERE position = l.status) AS status_type,
           ph.head, sy.position AS phase_synced
      FROM last l JOIN events e ON e.position = l.position
      LEFT JOIN events s ON s.position = l.started
      LEFT JOIN bulk_requests d ON d.id = s.data->>'promotion_id'
      LEFT JOIN phases ph ON ph.stream_id = l.stream_id
      LEFT JOIN synced sy ON sy.stream_id = l.stream_id
)
SELECT split_part(k.stream_id, ':', 2), split_part(k.stream_id, ':', 3), k.desired, k.applied,
       coalesce((SELECT data->>'health' FROM events WHERE position = k.health),
                '{Health.UNKNOWN.value}'),
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
  FROM known k LEFT JOIN bulk_requests r ON r.position = k.request
""",
    """
INSERT INTO releases
SELECT DISTINCT ON (substr(stream_id, 5), data->>'sha')
       substr(stream_id, 5), data->>'sha', (data->>'number')::int, data->>'digest',
       data->>'message', data->>'author', (data->>'committed_at')::timestamptz,
       recorded_at, position
  FROM events WHERE position <= $1 AND type = 'App.ReleaseCreated'
 ORDER BY substr(stream_id, 5), data->>'sha', position DESC
""",
    # A release's row in an environment follows its last request there: the handlers
    # write the same fields to it as to that promotion, and reset it on a new request.
    f"""
INSERT INTO release_environments
WITH latest AS (
    SELECT DISTINCT ON (app, release, environment) *
      FROM bulk_requests ORDER BY app, release, environment, position DESC
), verified AS (
    SELECT DISTINCT ON (promotion_id) promotion_id AS id, position, at
      FROM bulk_events WHERE type = {_VERIFIED} ORDER BY promotion_id, position DESC
), soaks AS (
    -- the sync before the verification is the one the soak counted from
    SELECT DISTINCT ON (v.id) v.id, extract(epoch FROM v.at - s.at)::double precision AS seconds
      FROM verified v JOIN bulk_synced s ON s.promotion_id = v.id AND s.position < v.position
     ORDER BY v.id, s.position DESC
), rollbacks AS (
    SELECT DISTINCT ON (stream_id, release) stream_id, release, position, recorded_at,
           actor, promotion_id
      FROM (SELECT stream_id, position, recorded_at, data->>'release' AS release,
                   metadata->>'actor' AS actor, data->>'promotion_id' AS promotion_id
              FROM events WHERE position <= $1 AND type = 'Target.ReleaseRolledBack'
               AND stream_id LIKE 'target:%') x
     ORDER BY stream_id, release, position DESC
)
SELECT l.app, l.release, l.environment, l.id, l.kind, l.requested_by, l.requested_at,
       p.approvals, p.started_at, p.synced_at, v.at, k.seconds, p.outcome,
       b.recorded_at, b.actor, rb.reason
  FROM latest l JOIN promotions p ON p.id = l.id
  LEFT JOIN verified v ON v.id = l.id
  LEFT JOIN soaks k ON k.id = l.id
  LEFT JOIN rollbacks b ON b.stream_id = 'target:' || l.app || ':' || l.environment
                       AND b.release = l.release AND b.position > l.position
  LEFT JOIN bulk_requests rb ON rb.id = b.promotion_id
""",
]


async def load(conn: asyncpg.Connection, upto: int) -> None:
    """Fill the empty `state` tables from the events at positions up to `upto`."""
    for statement in _STATEMENTS:
        await conn.execute(statement, *([upto] if "$1" in statement else []))
        if statement.lstrip().startswith("CREATE TEMP TABLE"):
            # the planner needs their sizes to join them by hashing, not by nested loops
            await conn.execute(f"ANALYZE {statement.split()[3]}")
