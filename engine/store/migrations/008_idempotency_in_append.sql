-- An idempotency key is answered in the same transaction as the events its request appends,
-- so a request cut after its commit is replayed on retry, never run twice.
--
-- A reservation is held by one attempt (`owner`) for a lease, from a session of its process
-- (`owner_pid`, `owner_started`). A retry that finds the lease run out, or that session gone
-- (the first attempt's process died), takes the key over with a new owner; the first
-- attempt, should it still be alive, can no longer answer it: its append is refused.

ALTER TABLE idempotency_keys
    ADD COLUMN owner uuid,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN owner_pid integer,
    ADD COLUMN owner_started timestamptz;

CREATE FUNCTION baton_append_answered(
    a_stream text[], a_expected bigint[],
    e_batch integer[], e_type text[], e_schema integer[], e_data jsonb[], e_metadata jsonb[],
    k_subject text, k_key text, k_owner uuid, k_status integer, k_headers jsonb, k_body text
) RETURNS TABLE (batch integer, first_position bigint, last_position bigint,
                 last_version bigint, actual_version bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency_keys k
       SET status = k_status, headers = k_headers, body = k_body, completed_at = now()
     WHERE k.subject = k_subject AND k.key = k_key AND k.owner = k_owner AND k.status IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'idempotency key % of % is no longer held by this request', k_key, k_subject
            USING ERRCODE = 'BT410';
    END IF;
    -- atomic: a stream conflict rolls the answer back with the events
    RETURN QUERY SELECT * FROM baton_append(a_stream, a_expected, true, e_batch, e_type,
                                            e_schema, e_data, e_metadata);
END
$$;
