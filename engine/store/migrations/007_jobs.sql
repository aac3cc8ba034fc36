-- Background jobs of the API (projection replays), kept here rather than in the memory of
-- one process, so that any API process answers a poll the same. The partial unique index
-- lets only one running job of a kind in, whichever process inserts it: that, not a check
-- before the insert, is what keeps replays one at a time across processes.
-- A running job's owner is the backend of a connection its process holds open for the
-- whole run (pid and start time, since pids are reused): once that backend is gone from
-- pg_stat_activity, the process died mid-run, and any process may mark the job failed.

CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    kind             text        NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    requested_by     text        NOT NULL,
    state            text        NOT NULL DEFAULT 'running'
                                 CHECK (state IN ('running', 'succeeded', 'failed')),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    result           jsonb,
    error            text,
    owner_pid        integer     NOT NULL,
    owner_started_at timestamptz NOT NULL,
    CHECK ((state = 'running') = (finished_at IS NULL))
);

CREATE UNIQUE INDEX jobs_one_running_per_kind ON jobs (kind) WHERE state = 'running';
