-- 0009 settle_own_reservation: record_ai_usage() charged a request twice when requests of
-- one user settled at the same moment. Its SKIP LOCKED look-up for an open reservation could
-- find none: those it saw were locked by requests being settled, and the reservation left
-- for it had been made after the look-up's snapshot was taken. It then charged the actual
-- usage on top, and left a reservation open until daily maintenance released it: the quota
-- ran 1,000 tokens ahead of the aggregates. Now the quota row is locked first, so requests of
-- one user settle one at a time and each look-up sees every reservation made before it.

-- The function pins the search_path it is created with: the set's schema, then pg_temp.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE OR REPLACE FUNCTION record_ai_usage(
    p_user_id bigint,
    p_provider_id integer,
    p_model_id integer,
    p_input_tokens integer,
    p_output_tokens integer,
    p_cost_usd numeric DEFAULT NULL,
    p_latency_ms integer DEFAULT NULL,
    p_request_type text DEFAULT 'chat',
    p_status text DEFAULT 'success',
    p_error_message text DEFAULT NULL,
    p_metadata jsonb DEFAULT '{}',
    p_consume_quota boolean DEFAULT true,
    p_reservation_id bigint DEFAULT NULL)
RETURNS ai_usage_requests
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    m ai_models;
    r ai_usage_requests;
    res quota_reservations;
    q user_quotas;
    after user_quotas;
    v_cost numeric;
    v_tokens bigint := coalesce(p_input_tokens, 0) + coalesce(p_output_tokens, 0);
    v_day date;
    v_metadata jsonb := coalesce(p_metadata, '{}');
    new_tokens bigint;
    new_cost numeric;
    over_tokens bigint;
    over_cost numeric;
BEGIN
    SELECT * INTO m FROM ai_models WHERE id = p_model_id;
    IF NOT FOUND OR m.provider_id IS DISTINCT FROM p_provider_id THEN
        RAISE EXCEPTION 'model % is not a model of provider %', p_model_id, p_provider_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    v_cost := coalesce(p_cost_usd, round(
        (coalesce(p_input_tokens, 0) * m.input_cost_per_1k_tokens
         + coalesce(p_output_tokens, 0) * m.output_cost_per_1k_tokens) / 1000, 6));
    IF p_consume_quota THEN
        -- The quota row first: requests of one user settle one at a time, and the look-up
        -- below, a statement of its own, sees every reservation made before it (this
        -- request's too), none of them locked by another request being settled.
        SELECT * INTO q FROM user_quotas WHERE user_id = p_user_id FOR UPDATE;
        -- SKIP LOCKED: two requests settling at once each take a reservation of their own
        SELECT * INTO res FROM quota_reservations
         WHERE user_id = p_user_id AND settled_at IS NULL
           AND (p_reservation_id IS NULL OR id = p_reservation_id)
         ORDER BY created_at, id LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND AND p_reservation_id IS NOT NULL THEN
            RAISE EXCEPTION 'reservation % is not an open reservation of user %', p_reservation_id, p_user_id
                USING ERRCODE = 'no_data_found';
        END IF;
        IF FOUND THEN
            new_tokens := q.tokens_used + v_tokens;
            new_cost := q.cost_used_usd + v_cost;
            IF res.period_start = q.period_start THEN
                -- the estimate is still counted in this period: replace it by the actual
                new_tokens := new_tokens - res.tokens;
                new_cost := new_cost - res.cost_usd;
            END IF;
            over_tokens := greatest(0, new_tokens - coalesce(q.tokens_limit, new_tokens));
            over_cost := greatest(0, new_cost - coalesce(q.cost_limit_usd, new_cost));
            UPDATE user_quotas
               SET tokens_used = greatest(0, new_tokens - over_tokens),
                   cost_used_usd = greatest(0, new_cost - over_cost)
             WHERE user_id = p_user_id
            RETURNING * INTO after;
            UPDATE quota_reservations SET settled_at = now(), settled_by = 'request' WHERE id = res.id;
            PERFORM write_usage_alerts(p_user_id, quota_usage_percent(q), quota_usage_percent(after), after.period_start);
            IF over_tokens > 0 OR over_cost > 0 THEN
                v_metadata := v_metadata || jsonb_build_object(
                    'quota_overshoot_tokens', over_tokens, 'quota_overshoot_usd', over_cost);
            END IF;
        ELSE
            res.id := check_and_consume_quota(p_user_id, v_tokens, v_cost);
            IF res.id IS NULL THEN
                RAISE EXCEPTION 'quota exceeded for user %: % tokens and $% requested', p_user_id, v_tokens, v_cost
                    USING ERRCODE = 'WQ429', HINT = 'reserve quota with check_and_consume_quota() before calling the provider';
            END IF;
            UPDATE quota_reservations SET settled_at = now(), settled_by = 'request' WHERE id = res.id;
        END IF;
    END IF;
    INSERT INTO ai_usage_requests (user_id, provider_id, model_id, request_type, status,
                                   input_tokens, output_tokens, cost_usd, latency_ms,
                                   error_message, metadata)
    VALUES (p_user_id, p_provider_id, p_model_id, p_request_type, p_status,
            coalesce(p_input_tokens, 0), coalesce(p_output_tokens, 0), v_cost, p_latency_ms,
            p_error_message, v_metadata)
    RETURNING * INTO r;
    v_day := (r.created_at AT TIME ZONE 'UTC')::date;
    INSERT INTO ai_usage_daily AS d (user_id, usage_date, request_count, input_tokens, output_tokens, total_tokens, cost_usd)
    VALUES (p_user_id, v_day, 1, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd)
    ON CONFLICT (user_id, usage_date) DO UPDATE
       SET request_count = d.request_count + 1,
           input_tokens = d.input_tokens + EXCLUDED.input_tokens,
           output_tokens = d.output_tokens + EXCLUDED.output_tokens,
           total_tokens = d.total_tokens + EXCLUDED.total_tokens,
           cost_usd = d.cost_usd + EXCLUDED.cost_usd,
           updated_at = now();
    INSERT INTO ai_usage_monthly AS mo (user_id, year, month, request_count, input_tokens, output_tokens, total_tokens, cost_usd)
    VALUES (p_user_id, extract(year FROM v_day), extract(month FROM v_day), 1,
            r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd)
    ON CONFLICT (user_id, year, month) DO UPDATE
       SET request_count = mo.request_count + 1,
           input_tokens = mo.input_tokens + EXCLUDED.input_tokens,
           output_tokens = mo.output_tokens + EXCLUDED.output_tokens,
           total_tokens = mo.total_tokens + EXCLUDED.total_tokens,
           cost_usd = mo.cost_usd + EXCLUDED.cost_usd,
           updated_at = now();
    RETURN r;
END;
$$;
