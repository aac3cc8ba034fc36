-- The latest snapshot of each aggregate that has one: its state at `version`, so a load
-- reads it and the events after it instead of the whole stream. A cache, not a record:
-- rows can be deleted at any time, and a row written by other code (`code`, see
-- engine/snapshots.py) is ignored. Never part of the log's hash chain.
CREATE TABLE snapshots (
    stream_id  text        PRIMARY KEY,
    version    bigint      NOT NULL CHECK (version >= 1),
    code       text        NOT NULL,
    state      jsonb       NOT NULL CHECK (jsonb_typeof(state) = 'object'),
    taken_at   timestamptz NOT NULL DEFAULT now()
);
