-- Events in their current shape, for readers in SQL. The log stays as it was written: an
-- event stored at an older schema version keeps its row (its hash covers it), and its data
-- as its event class reads it now (engine.codec's upcasters) is kept here, filled by
-- engine/store/upcasts.py. A cache of the log, not a record: never part of the hash chain.
CREATE TABLE event_upcasts (
    -- the event's; no foreign key, so that a TRUNCATE of the log meets its own refusal
    position       bigint  PRIMARY KEY,
    schema_version integer NOT NULL CHECK (schema_version >= 2),
    data           jsonb   NOT NULL CHECK (jsonb_typeof(data) = 'object')
);

-- How far the log has been searched for events older than the current versions, per set
-- of current versions (`Target.PromotionApproved=2`): a start-up or a rebuild searches only
-- the positions after it, and code with newer versions searches the whole log once.
CREATE TABLE event_upcasts_searched (
    versions text   PRIMARY KEY,
    position bigint NOT NULL CHECK (position >= 0)
);

-- The log as readers in SQL see it: every event, in its current shape (no hash: that is
-- of the row as stored, and only `baton audit verify` reads it).
CREATE VIEW events_current AS
SELECT e.position, e.stream_id, e.stream_version, e.type,
       coalesce(u.schema_version, e.schema_version) AS schema_version,
       coalesce(u.data, e.data) AS data, e.metadata, e.recorded_at
  FROM events e LEFT JOIN event_upcasts u ON u.position = e.position;
