-- Durable subscriptions (engine.subscriptions): where each named follower of the log has
-- handled it up to, and who consumes it. At least once: the checkpoint is written after the
-- events it covers were handled, every few events or seconds, so a crash hands the events
-- after it to the handler again. One consumer at a time: a session advisory lock on the
-- subscription's name, held by the consumer's lock connection (`holder_backend`); the
-- holder columns describe the last consumer that took it, and count only while that
-- backend holds the lock. Parked events are the `subscription:<name>` stream's events.
CREATE TABLE subscriptions (
    name           text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    -- the last position handled for sure (0: none)
    position       bigint      NOT NULL CHECK (position >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- the last error of the handler (the event it was on is in the message)
    last_error     text,
    error_at       timestamptz,
    holder_pid     integer     CHECK (holder_pid > 0),
    holder_host    text,
    holder_backend integer     CHECK (holder_backend > 0),
    held_since     timestamptz,
    CONSTRAINT subscriptions_error_dated CHECK ((last_error IS NULL) = (error_at IS NULL)),
    CONSTRAINT subscriptions_holder_whole CHECK (
        (holder_pid IS NULL) = (holder_host IS NULL)
        AND (holder_pid IS NULL) = (holder_backend IS NULL)
        AND (holder_pid IS NULL) = (held_since IS NULL))
);
