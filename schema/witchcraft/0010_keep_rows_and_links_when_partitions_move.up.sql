-- 0010 keep_rows_and_links_when_partitions_move: ensure_ai_usage_partitions() moved a month's
-- rows out of the default partition with an INSERT ... SELECT and then a DELETE. The DELETE
-- fired agent_messages' foreign key ON DELETE SET NULL, so every message of that month lost
-- its usage request; and the two statements took two snapshots, so a row committed between
-- them was deleted without being copied.
--
-- Now a month that gets its partition is moved under an EXCLUSIVE lock on ai_usage_requests,
-- held to the end of the transaction: requests being recorded wait (and then go to the new
-- partition), reads go on. The rows are moved by one DELETE ... RETURNING, so what is copied
-- is exactly what is deleted, and the links the DELETE cuts are put back once the month's
-- partition is attached. The lock is taken only when a partition is made (once a month, by
-- daily maintenance, ahead of time) and lasts as long as the move: about a second per
-- 100,000 rows of that month in the default partition, none when upkeep runs on time and
-- the default partition holds nothing of the month being made.

-- The function pins the search_path it is created with: the set's schema, then pg_temp.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE OR REPLACE FUNCTION ensure_ai_usage_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    month date;
    part text;
    lo timestamptz;
    hi timestamptz;
    made integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0..months_ahead LOOP
        month := (first_month + make_interval(months => i))::date;
        part := 'ai_usage_requests_' || to_char(month, 'YYYY_MM');
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
        lo := month::timestamp AT TIME ZONE 'UTC';
        hi := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        -- no request is recorded while its month moves out of the default partition
        LOCK TABLE ai_usage_requests IN EXCLUSIVE MODE;
        EXECUTE format('CREATE TABLE %I (LIKE ai_usage_requests INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)', part);
        -- the links the move cuts (ON DELETE SET NULL), to put back after it
        CREATE TEMPORARY TABLE IF NOT EXISTS ai_usage_links (message_id bigint, request_id bigint, created_at timestamptz)
            ON COMMIT DROP;
        TRUNCATE ai_usage_links;
        INSERT INTO ai_usage_links
        SELECT m.id, m.usage_request_id, m.usage_request_created_at
          FROM agent_messages m
         WHERE m.usage_request_created_at >= lo AND m.usage_request_created_at < hi;
        EXECUTE format(
            'WITH moved AS (DELETE FROM ai_usage_requests_default WHERE created_at >= %L AND created_at < %L RETURNING *)
             INSERT INTO %I (id, user_id, provider_id, model_id, request_type, status, input_tokens,
                             output_tokens, cost_usd, latency_ms, error_message, metadata, created_at)
             SELECT id, user_id, provider_id, model_id, request_type, status, input_tokens,
                    output_tokens, cost_usd, latency_ms, error_message, metadata, created_at
               FROM moved',
            lo, hi, part);
        EXECUTE format('ALTER TABLE ai_usage_requests ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
        -- no role but the owner reaches a partition directly, whatever the platform's defaults
        EXECUTE format('REVOKE ALL ON TABLE %I FROM PUBLIC, anon, authenticated, service_role', part);
        UPDATE agent_messages m
           SET usage_request_id = l.request_id, usage_request_created_at = l.created_at
          FROM ai_usage_links l
         WHERE m.id = l.message_id AND m.usage_request_id IS NULL;
        made := made + 1;
    END LOOP;
    RETURN made;
END;
$$;
