-- Each run of the hash chain's verification (`baton audit verify`, GET /api/v1/audit/verify):
-- when it ran, how far the chain held, and where it broke. The console shows the latest.
-- Not an event: verifying the log must not add to the log it verifies.

CREATE TABLE audit_verifications (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    verified_at   timestamptz NOT NULL DEFAULT now(),
    ok            boolean     NOT NULL,
    checked       bigint      NOT NULL CHECK (checked >= 0),
    head_position bigint      NOT NULL CHECK (head_position >= 0),
    -- the last position whose hash was recomputed and matched (0: none)
    verified_to   bigint      NOT NULL CHECK (verified_to BETWEEN 0 AND head_position),
    broken_at     bigint      CHECK (broken_at >= 1),
    reason        text        CHECK (length(reason) BETWEEN 1 AND 200),
    CONSTRAINT audit_verifications_broken_named CHECK (
        ok = (broken_at IS NULL) AND (broken_at IS NULL) = (reason IS NULL)),
    CONSTRAINT audit_verifications_ok_reaches_head CHECK (NOT ok OR verified_to = head_position)
);

CREATE INDEX audit_verifications_latest ON audit_verifications (verified_at DESC, id DESC);
