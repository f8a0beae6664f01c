-- 0012 refuse_a_full_quota: check_and_consume_quota() granted a reservation of zero tokens
-- on a quota that was full (tokens_used = tokens_limit passes "used + 0 <= limit"), and the
-- request it let through was then charged only up to the limit: with 99,999 of 100,000 used,
-- three requests of 50,000 tokens reserved with an estimate of zero were all granted, and
-- about 100,000 tokens were never charged.
--
-- A full quota (tokens or cost) now refuses every reservation. How an overshoot is charged:
-- a request that ends beyond the limit (its estimate was too low: the provider was called
-- already) is charged up to the limit and its excess noted in its metadata
-- (quota_overshoot_tokens, quota_overshoot_usd), as before; the quota is then full, so no
-- further reservation is granted until the period resets. The usage recorded in a period is
-- therefore what the quota charged plus the overshoot noted, and one request at most can
-- overshoot.

-- The function pins the search_path it is created with: the set's schema, then pg_temp.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE OR REPLACE FUNCTION check_and_consume_quota(p_user_id bigint, p_tokens bigint, p_cost numeric)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    q user_quotas;
    prior user_quotas;
    asked user_quotas;
    reservation bigint;
BEGIN
    IF p_tokens IS NULL OR p_cost IS NULL OR p_tokens < 0 OR p_cost < 0 THEN
        RAISE EXCEPTION 'tokens and cost must be given and not negative (got %, %)', p_tokens, p_cost
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE user_quotas u
       SET tokens_used = u.tokens_used + p_tokens,
           cost_used_usd = u.cost_used_usd + p_cost
     WHERE u.user_id = p_user_id
       -- a full quota grants nothing, not even an estimate of zero
       AND (u.tokens_limit IS NULL OR (u.tokens_used < u.tokens_limit AND u.tokens_used + p_tokens <= u.tokens_limit))
       AND (u.cost_limit_usd IS NULL OR (u.cost_used_usd < u.cost_limit_usd AND u.cost_used_usd + p_cost <= u.cost_limit_usd))
    RETURNING u.* INTO q;
    IF NOT FOUND THEN
        SELECT * INTO prior FROM user_quotas WHERE user_id = p_user_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'user % has no quota', p_user_id USING ERRCODE = 'no_data_found';
        END IF;
        asked := prior;
        asked.tokens_used := prior.tokens_used + p_tokens;
        asked.cost_used_usd := prior.cost_used_usd + p_cost;
        INSERT INTO audit_logs (user_id, event_type, severity, success, metadata)
        VALUES (p_user_id, 'quota_exceeded', 'warning', false, jsonb_build_object(
            'tokens_requested', p_tokens, 'cost_requested_usd', p_cost,
            'tokens_used', prior.tokens_used, 'tokens_limit', prior.tokens_limit,
            'cost_used_usd', prior.cost_used_usd, 'cost_limit_usd', prior.cost_limit_usd,
            'period_start', prior.period_start));
        -- the 100% alert (a refusal is "exceeded"), never the 80% one for it
        PERFORM write_usage_alerts(p_user_id, 80, greatest(quota_usage_percent(asked), 100), prior.period_start);
        RETURN NULL;
    END IF;
    INSERT INTO quota_reservations (user_id, tokens, cost_usd, period_start)
    VALUES (p_user_id, p_tokens, p_cost, q.period_start)
    RETURNING id INTO reservation;
    prior := q;
    prior.tokens_used := q.tokens_used - p_tokens;
    prior.cost_used_usd := q.cost_used_usd - p_cost;
    PERFORM write_usage_alerts(p_user_id, quota_usage_percent(prior), quota_usage_percent(q), q.period_start);
    RETURN reservation;
END;
$$;
