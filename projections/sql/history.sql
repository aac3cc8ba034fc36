-- The `history` projection (temporal): what each target desired and ran, period by
-- period. A period starts at each change of either release (the change it starts with is
-- `kind`, `release`, `actor`, `change_promotion_id`) and carries both releases, so "what
-- ran where at position P" is one GiST lookup on `positions` giving one row per target,
-- plus the open rows, never a replay; a time is first turned into the last position
-- recorded by then (recorded_at never goes backwards along positions). Periods that
-- ended are in `target_history` (insert-only, so a replay is a bulk load); the one still
-- running for each target is in `target_history_open`.
CREATE TABLE target_history (
    app                 text        NOT NULL,
    environment         text        NOT NULL,
    kind                text        NOT NULL CHECK (kind IN ('desired', 'applied')),
    release             text        NOT NULL,
    actor               text        NOT NULL,
    change_promotion_id text,
    valid_from          timestamptz NOT NULL,
    valid_to            timestamptz NOT NULL,
    from_position       bigint      NOT NULL,
    to_position         bigint      NOT NULL CHECK (to_position > from_position),
    desired_release     text,
    applied_release     text,
    desired_since       timestamptz,
    applied_since       timestamptz,
    desired_by          text,
    promotion_id        text,
    positions int8range GENERATED ALWAYS AS (int8range(from_position, to_position, '[)')) STORED,
    PRIMARY KEY (app, environment, from_position)
);

CREATE TABLE target_history_open (
    app                 text        NOT NULL,
    environment         text        NOT NULL,
    kind                text        NOT NULL CHECK (kind IN ('desired', 'applied')),
    release             text        NOT NULL,
    actor               text        NOT NULL,
    change_promotion_id text,
    valid_from          timestamptz NOT NULL,
    from_position       bigint      NOT NULL,
    desired_release     text,
    applied_release     text,
    desired_since       timestamptz,
    applied_since       timestamptz,
    desired_by          text,
    promotion_id        text,
    PRIMARY KEY (app, environment)
);

-- indexes
-- covering: an as-of reads thousands of periods scattered over the table, from the index
CREATE INDEX target_history_positions ON target_history USING gist (positions)
    INCLUDE (app, environment, desired_release, applied_release, desired_since,
             applied_since, desired_by, promotion_id);
CREATE INDEX target_history_from ON target_history (valid_from);
