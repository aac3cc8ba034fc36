-- The event log: one append-only table, a head row that serialises appends (gap-free
-- positions in commit order, and one global hash chain), and the function that appends.

CREATE TABLE events (
    position       bigint      PRIMARY KEY CHECK (position >= 1),
    stream_id      text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200
                                               AND stream_id !~ '[[:cntrl:]]'),
    stream_version bigint      NOT NULL CHECK (stream_version >= 1),
    type           text        NOT NULL CHECK (length(type) BETWEEN 1 AND 200
                                               AND type !~ '[[:cntrl:]]'),
    schema_version integer     NOT NULL CHECK (schema_version >= 1),
    data           jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    metadata       jsonb       NOT NULL CHECK (jsonb_typeof(metadata) = 'object'
                                               AND metadata ? 'actor'),
    recorded_at    timestamptz NOT NULL,
    hash           bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_recorded_at ON events (recorded_at);

-- A single row: the last position and the last hash. Every append locks it, so appends
-- commit one after another and a reader that sees position N has seen every position < N.
CREATE TABLE event_head (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint  NOT NULL,
    hash     bytea   NOT NULL
);
INSERT INTO event_head (id, position, hash) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- The hash of one event, chained over the hash of the event before it. Time enters as
-- microseconds since the epoch so the text does not depend on the session's TimeZone.
CREATE FUNCTION baton_event_hash(
    prev bytea, p_position bigint, p_stream_id text, p_stream_version bigint, p_type text,
    p_schema_version integer, p_data jsonb, p_metadata jsonb, p_recorded_at timestamptz
) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(prev || convert_to(concat_ws(E'\x1f',
        p_position, p_stream_id, p_stream_version, p_type, p_schema_version,
        p_data::text, p_metadata::text,
        (extract(epoch FROM p_recorded_at) * 1000000)::bigint), 'UTF8'))
$$;

-- Appends several batches at once (one per stream). Each batch is all-or-nothing: a batch
-- whose expected version does not match is reported (actual_version) and skipped; with
-- p_atomic a mismatch aborts the whole call instead.
CREATE FUNCTION baton_append(
    a_stream text[], a_expected bigint[], p_atomic boolean,
    e_batch integer[], e_type text[], e_schema integer[], e_data jsonb[], e_metadata jsonb[]
) RETURNS TABLE (batch integer, first_position bigint, last_position bigint,
                 last_version bigint, actual_version bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    h_pos    bigint;
    h_hash   bytea;
    now_ts   timestamptz;
    n        integer := coalesce(array_length(e_type, 1), 0);
    j        integer := 1;
    cur      bigint;
    ver      bigint;
    -- rows to insert, gathered so that one INSERT writes them all
    r_pos    bigint[] := '{}';
    r_stream text[] := '{}';
    r_ver    bigint[] := '{}';
    r_idx    integer[] := '{}';
    r_hash   bytea[] := '{}';
    -- streams this call has appended to, and their versions after it
    s_names  text[] := '{}';
    s_vers   bigint[] := '{}';
    s_at     integer;
BEGIN
    SELECT h.position, h.hash INTO h_pos, h_hash FROM event_head h WHERE h.id FOR UPDATE;
    -- taken after the lock so that recorded_at never goes backwards along positions
    now_ts := clock_timestamp();
    FOR i IN 1 .. coalesce(array_length(a_stream, 1), 0) LOOP
        -- an earlier batch of this same call may have appended to the stream already
        s_at := array_position(s_names, a_stream[i]);
        IF s_at IS NOT NULL THEN
            cur := s_vers[s_at];
        ELSE
            SELECT coalesce(max(e.stream_version), 0) INTO cur
              FROM events e WHERE e.stream_id = a_stream[i];
        END IF;
        IF a_expected[i] IS NOT NULL AND a_expected[i] <> cur THEN
            IF p_atomic THEN
                RAISE EXCEPTION 'stream % is at version %, expected %',
                    a_stream[i], cur, a_expected[i]
                    USING ERRCODE = 'BT409', DETAIL = cur::text;
            END IF;
            WHILE j <= n AND e_batch[j] = i LOOP j := j + 1; END LOOP;
            RETURN QUERY SELECT i, NULL::bigint, NULL::bigint, NULL::bigint, cur, now_ts;
            CONTINUE;
        END IF;
        ver := cur;
        WHILE j <= n AND e_batch[j] = i LOOP
            h_pos := h_pos + 1;
            ver := ver + 1;
            h_hash := baton_event_hash(h_hash, h_pos, a_stream[i], ver, e_type[j],
                                       e_schema[j], e_data[j], e_metadata[j], now_ts);
            r_pos := r_pos || h_pos;
            r_stream := r_stream || a_stream[i];
            r_ver := r_ver || ver;
            r_idx := r_idx || j;
            r_hash := r_hash || h_hash;
            j := j + 1;
        END LOOP;
        IF s_at IS NULL THEN
            s_names := s_names || a_stream[i];
            s_vers := s_vers || ver;
        ELSE
            s_vers[s_at] := ver;
        END IF;
        RETURN QUERY SELECT i, h_pos - (ver - cur) + 1, h_pos, ver, cur, now_ts;
    END LOOP;
    INSERT INTO events (position, stream_id, stream_version, type, schema_version,
                        data, metadata, recorded_at, hash)
    SELECT r.pos, r.stream, r.ver, e_type[r.idx], e_schema[r.idx], e_data[r.idx],
           e_metadata[r.idx], now_ts, r.hash
      FROM unnest(r_pos, r_stream, r_ver, r_idx, r_hash) AS r(pos, stream, ver, idx, hash);
    UPDATE event_head SET position = h_pos, hash = h_hash WHERE id;
    PERFORM pg_notify('baton_events', h_pos::text);
END
$$;

-- The database, not the code, keeps the log append-only.
CREATE FUNCTION baton_reject_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the events table is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'BT403';
END
$$;

CREATE TRIGGER events_append_only_rows BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION baton_reject_event_change();
CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION baton_reject_event_change();
