-- The `state` projection: each target's current state, promotions, releases and their
-- lineage across environments.

CREATE TABLE targets (
    app                   text        NOT NULL,
    environment           text        NOT NULL,
    desired_release       text,
    applied_release       text,
    health                text        NOT NULL,
    sync_status           text        NOT NULL,
    promotion_id          text,
    promotion_release     text,
    promotion_phase       text,
    last_verified_release text,
    last_position         bigint      NOT NULL,
    last_changed_at       timestamptz NOT NULL,
    last_actor            text        NOT NULL
);

CREATE TABLE promotions (
    id                 text        NOT NULL,
    app                text        NOT NULL,
    environment        text        NOT NULL,
    release            text        NOT NULL,
    release_number     integer     NOT NULL,
    kind               text        NOT NULL,
    phase              text        NOT NULL,
    requested_by       text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    reason             text        NOT NULL,
    from_environment   text,
    approvals_required integer     NOT NULL,
    approvals          jsonb       NOT NULL,
    overrides          jsonb       NOT NULL,
    override_by        text,
    override_reason    text,
    started_at         timestamptz,
    synced_at          timestamptz,
    finished_at        timestamptz,
    outcome            text,
    trace_id           text,
    last_position      bigint      NOT NULL
);

CREATE TABLE releases (
    app              text        NOT NULL,
    sha              text        NOT NULL,
    number           integer     NOT NULL,
    digest           text        NOT NULL,
    message          text        NOT NULL,
    author           text        NOT NULL,
    committed_at     timestamptz,
    created_at       timestamptz NOT NULL,
    created_position bigint      NOT NULL
);

-- Where a release went: one row per release and environment it was promoted to.
CREATE TABLE release_environments (
    app                text        NOT NULL,
    sha                text        NOT NULL,
    environment        text        NOT NULL,
    promotion_id       text        NOT NULL,
    kind               text        NOT NULL,
    requested_by       text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    approvals          jsonb       NOT NULL,
    started_at         timestamptz,
    synced_at          timestamptz,
    verified_at        timestamptz,
    soak_seconds       double precision,
    outcome            text,
    rolled_back_at     timestamptz,
    rolled_back_by     text,
    rolled_back_reason text
);

-- indexes
-- Keys too, built once the rows are in: a rebuild's bulk load then inserts into bare
-- tables, and sorting a key once costs less than inserting every row into it.
ALTER TABLE targets ADD PRIMARY KEY (app, environment);
ALTER TABLE promotions ADD PRIMARY KEY (id);
ALTER TABLE releases ADD PRIMARY KEY (app, sha);
ALTER TABLE release_environments ADD PRIMARY KEY (app, sha, environment);
CREATE INDEX promotions_by_target ON promotions (app, environment, requested_at DESC);
CREATE INDEX releases_by_number ON releases (app, number DESC);
