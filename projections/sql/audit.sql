-- The `audit` projection: what readers filter every event by. The rest of a row (time,
-- type, summary, trace) is read from the event itself (`projections/audit.py`, ROW).
-- Names compare as bytes ("C"): a replay builds these indexes over every event, and
-- sorting by the locale's order costs more for an order nobody reads differently.
CREATE TABLE audit (
    position    bigint NOT NULL,
    app         text COLLATE "C",
    environment text COLLATE "C",
    actor       text COLLATE "C"   NOT NULL,
    action      text COLLATE "C"   NOT NULL
);

-- indexes
-- the key too: the rows go in first (see state.sql)
ALTER TABLE audit ADD PRIMARY KEY (position);
CREATE INDEX audit_by_target ON audit (app, environment, position DESC);
CREATE INDEX audit_by_actor ON audit (actor, position DESC);
CREATE INDEX audit_by_action ON audit (action, position DESC);
