-- Sign-in sessions of the web console. The cookie carries a random session id; only its
-- sha256 is kept here, as tokens are (a copy of this table signs no one in). The session
-- names the API token it was opened with by that token's hash, so a token taken out of
-- the token file ends its sessions at their next request. Kept in Postgres rather than in
-- one process's memory: every API process behind a port answers a signed-in page alike,
-- and a restart signs no one out.

CREATE TABLE console_sessions (
    id_hash    text        PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    token_hash text        NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
