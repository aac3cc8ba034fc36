-- The `audit` projection: every event as one human-readable row.
CREATE TABLE audit (
    position       bigint      PRIMARY KEY,
    recorded_at    timestamptz NOT NULL,
    app            text,
    environment    text,
    actor          text        NOT NULL,
    action         text        NOT NULL,
    event_type     text        NOT NULL,
    summary        text        NOT NULL,
    trace_id       text,
    correlation_id text,
    stream_id      text        NOT NULL
);

-- Time filters become position ranges through events.recorded_at: no index on time here.

-- indexes
CREATE INDEX audit_by_target ON audit (app, environment, position DESC);
CREATE INDEX audit_by_actor ON audit (actor, position DESC);
CREATE INDEX audit_by_action ON audit (action, position DESC);
