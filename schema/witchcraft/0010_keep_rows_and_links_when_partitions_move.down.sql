-- 0010 keep_rows_and_links_when_partitions_move, undone: the move as 0002 made it.

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
        EXECUTE format('CREATE TABLE %I (LIKE ai_usage_requests INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)', part);
        EXECUTE format(
            'INSERT INTO %I (id, user_id, provider_id, model_id, request_type, status, input_tokens,
                             output_tokens, cost_usd, latency_ms, error_message, metadata, created_at)
             SELECT id, user_id, provider_id, model_id, request_type, status, input_tokens,
                    output_tokens, cost_usd, latency_ms, error_message, metadata, created_at
               FROM ai_usage_requests_default WHERE created_at >= %L AND created_at < %L',
            part, lo, hi);
        EXECUTE format('DELETE FROM ai_usage_requests_default WHERE created_at >= %L AND created_at < %L', lo, hi);
        EXECUTE format('ALTER TABLE ai_usage_requests ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
        -- no role but the owner reaches a partition directly, whatever the platform's defaults
        EXECUTE format('REVOKE ALL ON TABLE %I FROM PUBLIC, anon, authenticated, service_role', part);
        made := made + 1;
    END LOOP;
    RETURN made;
END;
$$;
