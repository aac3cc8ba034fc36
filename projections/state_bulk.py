"""The `state` projection built set-wise inside Postgres, for a rebuild into empty tables.

The fold `engine.domain.target_state.evolve` is the definition (the live handlers in
`state.py` apply it); this computes the same rows from the whole log at once, because
pushing a million events through Python one by one is what made replays slow. Its event
types, phases and column lists come from the same declarations as the fold's.

Most fields are "the last event of some kind" per target or promotion. Two things depend
on order, and are derived with running window aggregates:

- the promotion a target works on when an event happens (its last request), which decides
  whether a finish moves the target's phase;
- whether a sync moves a promotion to `synced`: only the first sync of the promotion's
  release after the target's phase became `started`.

A property test holds this, the live handlers and the aggregate to the same rows.
"""

from __future__ import annotations

import asyncpg

from engine.domain.enums import Health, PromotionPhase, SyncStatus
from engine.domain.target_state import ENDS
from engine.domain.vocabulary import EventType, sql_list
from projections.base import WHOLE_LOG_TIMEOUT
from projections.feed import events_source, reading
from projections.jsontext import iso_utc
from projections.state_columns import LINEAGE_COLUMNS, PROMOTION_COLUMNS, TARGET_COLUMNS


def _q(t: EventType) -> str:
    return f"'{t.value}'"


_REQUESTED = _q(EventType.PROMOTION_REQUESTED)
_STARTED = _q(EventType.PROMOTION_STARTED)
_SYNCED = _q(EventType.SYNC_SUCCEEDED)
_VERIFIED = _q(EventType.PROMOTION_VERIFIED)
_APPROVED = _q(EventType.PROMOTION_APPROVED)
_OVERRIDDEN = _q(EventType.POLICY_OVERRIDDEN)
_HEALTH = _q(EventType.HEALTH_CHANGED)
_ROLLED_BACK = _q(EventType.RELEASE_ROLLED_BACK)
_RELEASE = _q(EventType.RELEASE_CREATED)
_SYNC_STARTED = _q(EventType.SYNC_STARTED)
_SYNC_FAILED = _q(EventType.SYNC_FAILED)
_DRIFT_CORRECTED = _q(EventType.DRIFT_CORRECTED)
#: the events that end a promotion other than its verification
_FINISHED_TYPES = sql_list(*(t for t in ENDS if t is not EventType.PROMOTION_VERIFIED))
# the event types after which the target's sync status is known from that event alone
_STATUS_TYPES = sql_list(
    EventType.PROMOTION_STARTED,
    EventType.SYNC_SUCCEEDED,
    EventType.SYNC_STARTED,
    EventType.SYNC_FAILED,
    EventType.SYNC_ABANDONED,
    EventType.DRIFT_DETECTED,
    EventType.DRIFT_CORRECTED,
)
# the phase each ending event type leaves its promotion in
_FINISHED_PHASE = (
    "CASE type "
    + " ".join(f"WHEN {_q(t)} THEN '{phase.value}'" for t, (phase, _) in ENDS.items())
    + " END"
)
# the outcome each ending event records, as `ENDS` writes it (an f-string prints a
# missing value as "None")
_OUTCOME = f"""CASE type
  WHEN {_VERIFIED} THEN 'verified'
  WHEN {_q(EventType.PROMOTION_SUPERSEDED)} THEN 'superseded by '
       || coalesce(data->>'by_promotion', 'None')
  WHEN {_q(EventType.PROMOTION_FAILED)} THEN coalesce(data->>'reason', 'None')
  WHEN {_q(EventType.PROMOTION_REJECTED)} THEN 'rejected by ' || coalesce(data->>'by', 'None')
       || ': ' || coalesce(data->>'reason', 'None')
  WHEN {_q(EventType.PROMOTION_CANCELLED)} THEN 'cancelled by '
       || coalesce(data->>'by', 'None') || ': ' || coalesce(data->>'reason', 'None')
END"""


def _select(columns: tuple[str, ...], exprs: dict[str, str]) -> str:
    """`expr AS column, ...` in the table's declared column order, each column once."""
    if set(exprs) != set(columns):
        raise ValueError(f"columns {sorted(set(columns) ^ set(exprs))} declared on one side")
    return ",\n       ".join(f"{exprs[c]} AS {c}" for c in columns)


# how the handlers' JSON writes an approval's time
_ISO_AT = iso_utc("at")

# Each table's columns, as the statement below computes them (`_select` checks they are
# the declared ones).
_PROMOTION = {
    "id": "r.id",
    "app": "r.app",
    "environment": "r.environment",
    "release": "r.release",
    "release_number": "r.release_number",
    "kind": "r.kind",
    "phase": f"""CASE greatest(r.position, st.position, sy.position, f.position)
                WHEN f.position THEN f.phase
                WHEN sy.position THEN '{PromotionPhase.SYNCED.value}'
                WHEN st.position THEN '{PromotionPhase.STARTED.value}'
                ELSE '{PromotionPhase.AWAITING_APPROVAL.value}' END""",
    "requested_by": "r.requested_by",
    "requested_at": "r.requested_at",
    "reason": "r.reason",
    "from_environment": "r.from_environment",
    "approvals_required": "r.approvals_required",
    "approvals": "coalesce(a.list, '[]')",
    "overrides": "coalesce(o.rules, '[]')",
    "override_by": "o.by",
    "override_reason": "o.reason",
    "started_at": "st.at",
    "synced_at": "sy.at",
    "finished_at": "f.at",
    "outcome": "f.outcome",
    "trace_id": "r.trace_id",
    "last_position": (
        "greatest(r.position, a.position, o.position, st.position, sy.position, f.position)"
    ),
}
_TARGET = {
    "app": "split_part(k.stream_id, ':', 2)",
    "environment": "split_part(k.stream_id, ':', 3)",
    "desired_release": "k.desired",
    "applied_release": "k.applied",
    "health": f"coalesce(k.health, '{Health.UNKNOWN.value}')",
    "sync_status": f"""CASE
             WHEN k.status_type IS NULL THEN '{SyncStatus.UNKNOWN.value}'
             WHEN k.status_type = {_SYNC_STARTED} THEN '{SyncStatus.SYNCING.value}'
             WHEN k.status_type = {_SYNC_FAILED} THEN '{SyncStatus.FAILED.value}'
             WHEN k.status_type IN ({_SYNCED}, {_DRIFT_CORRECTED})
                  AND k.applied IS NOT DISTINCT FROM k.desired THEN '{SyncStatus.SYNCED.value}'
             ELSE '{SyncStatus.OUT_OF_SYNC.value}' END""",
    "last_verified_release": "(SELECT data->>'release' FROM events WHERE position = k.verified)",
    "promotion_id": "r.id",
    "promotion_release": "r.release",
    "promotion_phase": f"""CASE WHEN k.phase_synced > k.head THEN '{PromotionPhase.SYNCED.value}'
                ELSE (SELECT CASE WHEN type = {_REQUESTED}
                                  THEN '{PromotionPhase.AWAITING_APPROVAL.value}'
                                  WHEN type = {_STARTED} THEN '{PromotionPhase.STARTED.value}'
                                  ELSE {_FINISHED_PHASE} END
                        FROM events WHERE position = k.head) END""",
    "last_position": "k.position",
    "last_changed_at": "k.recorded_at",
    "last_actor": "coalesce(k.actor, '')",
}
# a release's row in an environment is what its promotion there shows (as in `state`)
_VERIFIED_AT = f"CASE WHEN p.phase = '{PromotionPhase.COMPLETED.value}' THEN p.finished_at END"
_LINEAGE = {
    "app": "l.app",
    "sha": "l.release",
    "environment": "l.environment",
    "promotion_id": "l.id",
    "kind": "l.kind",
    "requested_by": "l.requested_by",
    "requested_at": "l.requested_at",
    "approvals": "p.approvals",
    "started_at": "p.started_at",
    "synced_at": "p.synced_at",
    "verified_at": _VERIFIED_AT,
    "soak_seconds": f"extract(epoch FROM {_VERIFIED_AT} - p.synced_at)::double precision",
    "outcome": "p.outcome",
    "rolled_back_at": "b.recorded_at",
    "rolled_back_by": "b.actor",
    "rolled_back_reason": "rb.reason",
}

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
                             {_RELEASE}) THEN data END AS data,
           CASE WHEN type = {_REQUESTED}
                THEN substring(metadata->>'traceparent' from 4 for 32) END AS trace_id
      FROM events
     WHERE position <= $1 AND type <> {_HEALTH}
       AND (stream_id LIKE 'target:%' OR type = {_RELEASE})
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
    SELECT {_select(PROMOTION_COLUMNS, _PROMOTION)}
      FROM requests r
      LEFT JOIN approvals a USING (id) LEFT JOIN overrides o USING (id)
      LEFT JOIN starts st USING (id) LEFT JOIN syncs sy USING (id)
      LEFT JOIN finishes f USING (id)
), new_promotions AS (
    INSERT INTO promotions ({", ".join(PROMOTION_COLUMNS)})
    SELECT {", ".join(PROMOTION_COLUMNS)} FROM promotion_rows
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
             AND type = {_HEALTH}
           ORDER BY stream_version DESC LIMIT 1) hc ON true
      LEFT JOIN requests d
             ON d.id = (SELECT data->>'promotion_id' FROM events WHERE position = l.started)
      LEFT JOIN (SELECT stream_id, max(head_at) AS head FROM phases GROUP BY stream_id) h
             ON h.stream_id = l.stream_id
      LEFT JOIN (SELECT stream_id, max(position) AS position FROM synced GROUP BY stream_id) sy
             ON sy.stream_id = l.stream_id
), new_targets AS (
    INSERT INTO targets ({", ".join(TARGET_COLUMNS)})
    SELECT {_select(TARGET_COLUMNS, _TARGET)}
      FROM known k LEFT JOIN requests r ON r.position = k.request
), new_releases AS (
    INSERT INTO releases
    SELECT DISTINCT ON (substr(stream_id, 5), data->>'sha')
           substr(stream_id, 5), data->>'sha', (data->>'number')::int, data->>'digest',
           data->>'message', data->>'author', (data->>'committed_at')::timestamptz,
           recorded_at, position
      FROM ev WHERE type = {_RELEASE}
     ORDER BY substr(stream_id, 5), data->>'sha', position DESC
), latest AS (
    -- A release's row in an environment follows its last request there: the handlers
    -- write the same fields to it as to that promotion, and reset it on a new request.
    SELECT DISTINCT ON (app, release, environment) *
      FROM requests ORDER BY app, release, environment, position DESC
), rollbacks AS (
    SELECT DISTINCT ON (stream_id, release) stream_id, release, position, recorded_at, actor,
           promotion_id
      FROM ev WHERE type = {_ROLLED_BACK}
     ORDER BY stream_id, release, position DESC
)
INSERT INTO release_environments ({", ".join(LINEAGE_COLUMNS)})
SELECT {_select(LINEAGE_COLUMNS, _LINEAGE)}
  FROM latest l JOIN promotion_rows p ON p.id = l.id
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
