-- The `audit` projection: what readers filter every event by. The rest of a row (time,
-- type, summary, trace) is read from the event itself (`projections/audit.py`, ROW).
CREATE TABLE audit (
    position    bigint PRIMARY KEY,
    app         text,
    environment text,
    actor       text   NOT NULL,
    action      text   NOT NULL
);

-- indexes
CREATE INDEX audit_by_target ON audit (app, environment, position DESC);
CREATE INDEX audit_by_actor ON audit (actor, position DESC);
CREATE INDEX audit_by_action ON audit (action, position DESC);
