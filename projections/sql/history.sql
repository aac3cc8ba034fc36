-- The `history` projection (temporal): what each target desired and ran, period by
-- period. A period starts at each change of either release (the change it starts with is
-- `kind`, `release`, `actor`, `change_promotion_id`) and carries both releases. Periods
-- that ended are in `target_history` (insert-only, so a replay is a bulk load); the one
-- still running for each target is in `target_history_open`.
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
    promotion_id        text
);

-- "What ran where at position P" reads one epoch (2^15 positions) of this table: each
-- ended period is filed under every epoch it overlaps, so the periods containing P are
-- among the few thousand rows of P's epoch. A batch inserts its rows in the key's order
-- (epoch, then position: two integers, quick to sort), so an as-of reads a few hundred
-- consecutive pages one after the other along the index. A GiST index on position ranges
-- answered the same from pages scattered over an index larger than the table, and took
-- four times longer to build in a replay.
CREATE TABLE target_history_epochs (
    epoch           integer     NOT NULL,
    from_position   bigint      NOT NULL,
    to_position     bigint      NOT NULL,
    app             text        COLLATE "C" NOT NULL,
    environment     text        COLLATE "C" NOT NULL,
    -- the target's releases then, as the API's JSON (an as-of joins them into its answer)
    target_json     text        NOT NULL
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
    target_json         text        NOT NULL,  -- as in target_history_epochs
    PRIMARY KEY (app, environment)
);

-- indexes
-- unique: a position is one event, so no two periods start at one; a period's first epoch
-- holds it once
CREATE UNIQUE INDEX target_history_epochs_key ON target_history_epochs (epoch, from_position);
CREATE INDEX target_history_from ON target_history (valid_from);
