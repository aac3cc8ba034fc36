-- Where each projection has read the log up to, written in the same transaction as the
-- projection's rows (exactly-once), and the version of the code that built it.
CREATE TABLE projection_checkpoints (
    name        text        PRIMARY KEY,
    version     integer     NOT NULL,
    position    bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    error_at    timestamptz
);
