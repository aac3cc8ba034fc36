-- Idempotency keys of write requests: a retried request with the same key gets the first
-- answer back. The primary key makes concurrent duplicates safe: only one insert wins, the
-- others see the row. A row with no status is a request still being answered.

CREATE TABLE idempotency_keys (
    subject      text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    method       text        NOT NULL,
    path         text        NOT NULL,
    request_hash text        NOT NULL CHECK (length(request_hash) = 64),
    status       integer     CHECK (status BETWEEN 100 AND 599),
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    body         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (subject, key),
    CHECK ((status IS NULL) = (completed_at IS NULL))
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
