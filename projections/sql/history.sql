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

-- "What ran where at position P" reads one epoch (2^14 positions) of this table: each
-- ended period is filed under every epoch it overlaps, so the periods containing P are
-- among the few thousand rows of P's epoch, written together (a batch's rows are inserted
-- in epoch order), so they lie on a few hundred consecutive pages. A GiST index
-- on position ranges answered the same from pages scattered over an index larger than
-- the table, and took four times longer to build in a replay.
CREATE TABLE target_history_epochs (
    epoch           integer     NOT NULL,
    app             text        COLLATE "C" NOT NULL,
    environment     text        COLLATE "C" NOT NULL,
    from_position   bigint      NOT NULL,
    to_position     bigint      NOT NULL,
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
-- unique, as a period's first epoch holds it once: no two periods of a target start at
-- one position
CREATE UNIQUE INDEX target_history_epochs_key
    ON target_history_epochs (epoch, app, environment, from_position);
CREATE INDEX target_history_from ON target_history (valid_from);
