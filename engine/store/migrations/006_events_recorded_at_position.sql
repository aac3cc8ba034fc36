-- A time becomes a position by one step back along this index (time travel, the audit's
-- time filters): the last event recorded by then, the highest position among events
-- recorded at the same instant. Keyed on the time alone, that step sorted every event of
-- the instant (an append of many events shares one), thousands after a bulk import.
CREATE INDEX events_recorded_at_position ON events (recorded_at, position);
DROP INDEX events_recorded_at;
