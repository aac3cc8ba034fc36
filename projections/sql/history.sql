-- The `history` projection (temporal): one row per period in which a release was the
-- desired or the applied one in a target. An open period has no end. "What ran where at
-- T" is a GiST lookup on `period` (time) or `positions` (log position), not a replay.
CREATE TABLE target_history (
    app           text        NOT NULL,
    environment   text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('desired', 'applied')),
    release       text        NOT NULL,
    valid_from    timestamptz NOT NULL,
    valid_to      timestamptz,
    from_position bigint      NOT NULL,
    to_position   bigint,
    actor         text        NOT NULL,
    promotion_id  text,
    period        tstzrange   GENERATED ALWAYS AS (tstzrange(valid_from, valid_to, '[)')) STORED,
    positions     int8range   GENERATED ALWAYS AS (int8range(from_position, to_position, '[)')) STORED,
    PRIMARY KEY (app, environment, kind, from_position)
);

-- each batch looks up the open periods, so this index exists while loading too
CREATE INDEX target_history_open ON target_history (app, environment, kind)
    WHERE to_position IS NULL;

-- indexes
CREATE INDEX target_history_period ON target_history USING gist (period);
CREATE INDEX target_history_positions ON target_history USING gist (positions);
