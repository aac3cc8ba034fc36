-- The `history` projection (temporal): when each release was the desired or the applied
-- one in a target. Periods that ended are in `target_history` (insert-only, so a replay
-- is a bulk load); the period still running for each target and kind is in
-- `target_history_open`. "What ran where at position P" is a GiST lookup on `positions`
-- plus the open rows, never a replay; a time is first turned into the last position
-- recorded by then (recorded_at never goes backwards along positions).
CREATE TABLE target_history (
    app           text        NOT NULL,
    environment   text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('desired', 'applied')),
    release       text        NOT NULL,
    valid_from    timestamptz NOT NULL,
    valid_to      timestamptz NOT NULL,
    from_position bigint      NOT NULL,
    to_position   bigint      NOT NULL CHECK (to_position > from_position),
    actor         text        NOT NULL,
    promotion_id  text,
    positions     int8range   GENERATED ALWAYS AS (int8range(from_position, to_position, '[)')) STORED,
    PRIMARY KEY (app, environment, kind, from_position)
);

CREATE TABLE target_history_open (
    app           text        NOT NULL,
    environment   text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('desired', 'applied')),
    release       text        NOT NULL,
    valid_from    timestamptz NOT NULL,
    from_position bigint      NOT NULL,
    actor         text        NOT NULL,
    promotion_id  text,
    PRIMARY KEY (app, environment, kind)
);

-- indexes
-- covering: an as-of reads thousands of periods scattered over the table, from the index
CREATE INDEX target_history_positions ON target_history USING gist (positions)
    INCLUDE (app, environment, kind, release, valid_from, actor, promotion_id);
CREATE INDEX target_history_from ON target_history (valid_from);
