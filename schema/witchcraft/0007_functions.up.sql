-- The functions the overview's data flows and maintenance tasks call, each atomic (one
-- statement from the caller's point of view: it all happens or none of it does).
--
-- Who may call what:
--   backend (service_role): create_user_with_profile, check_and_consume_quota,
--     record_ai_usage, daily_maintenance, monthly_maintenance, cleanup_old_audit_logs
--     (SECURITY DEFINER: they write tables the API roles cannot; each pins search_path)
--   users (authenticated) too: get_remaining_quota, get_user_activity_summary
--     (SECURITY INVOKER SQL bodies: row level security shows each user only their own
--     numbers, admins everyone's; the planner inlines them, so they use the table indexes)
-- EXECUTE is revoked from PUBLIC, anon and authenticated on everything else.
--
-- The AI request flow, in the overview's order: check_and_consume_quota() reserves the
-- estimate (NULL: refused, and recorded as such), the provider is called, record_ai_usage()
-- settles the reservation to the actual usage. Recording without a reservation consumes
-- the actual usage, and raises SQLSTATE WQ429 ("quota exceeded for user N: ...") when it
-- does not fit.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- Registration: user, profile, free-tier quota and an audit row, in one transaction.
CREATE FUNCTION create_user_with_profile(p_email text, p_password_hash text, p_name text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_email text := lower(trim(p_email));
    v_user_id bigint;
    v_free subscription_tiers;
BEGIN
    IF p_password_hash IS NULL OR p_password_hash !~ '^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$' THEN
        RAISE EXCEPTION 'password_hash must be a bcrypt hash ($2b$...), never a plain password'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO v_free FROM subscription_tiers WHERE name = 'free';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription tier "free" is missing; new users get it' USING ERRCODE = 'no_data_found';
    END IF;
    BEGIN
        INSERT INTO users (email, password_hash, name)
        VALUES (v_email, p_password_hash, p_name)
        RETURNING id INTO v_user_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'a user with email % already exists', v_email USING ERRCODE = 'unique_violation';
    END;
    INSERT INTO user_profiles (user_id, display_name) VALUES (v_user_id, p_name);
    INSERT INTO user_quotas (user_id, tier_id, tokens_limit, cost_limit_usd)
    VALUES (v_user_id, v_free.id, v_free.monthly_token_limit, v_free.monthly_cost_limit_usd);
    INSERT INTO audit_logs (user_id, event_type, metadata)
    VALUES (v_user_id, 'user_created', jsonb_build_object('email', v_email, 'tier', v_free.name));
    RETURN v_user_id;
END;
$$;

-- Usage of a quota row in percent: the larger of the token and the cost share; NULL limits
-- count as unlimited.
CREATE FUNCTION quota_usage_percent(q user_quotas) RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $$
    SELECT round(greatest(
        coalesce(100.0 * q.tokens_used / nullif(q.tokens_limit, 0), 0),
        coalesce(100.0 * q.cost_used_usd / nullif(q.cost_limit_usd, 0), 0)), 2)
$$;

-- Writes the 80% and 100% usage alerts a change of usage from `pct_before` to `pct_after`
-- crosses, once per user, threshold and period.
CREATE FUNCTION write_usage_alerts(p_user_id bigint, pct_before numeric, pct_after numeric,
                                   p_period_start timestamptz)
RETURNS void
LANGUAGE sql
SET search_path FROM CURRENT
BEGIN ATOMIC
    INSERT INTO usage_alerts (user_id, alert_type, threshold_percent, usage_percent, period_start)
    SELECT p_user_id, t.alert_type, t.threshold, least(pct_after, 99999.99), p_period_start
      FROM (VALUES ('quota_warning', 80), ('quota_exceeded', 100)) t (alert_type, threshold)
     WHERE pct_before < t.threshold AND pct_after >= t.threshold
    ON CONFLICT ON CONSTRAINT usage_alerts_once_per_period_key DO NOTHING;
END;

-- Step 2 of the AI request flow: reserves the request's estimated `p_tokens` and `p_cost`
-- from the user's quota if both fit, atomically: one conditional UPDATE, so concurrent
-- callers serialise on the quota row and each re-checks the limit against the committed
-- total; they can never overspend together. Returns the reservation's id, which
-- record_ai_usage() settles to the actual usage (step 4).
-- Refused (it does not fit): returns NULL, and the refusal leaves a trace that stays (an
-- error would roll it back): a 'quota_exceeded' audit row every time, and the 100% usage
-- alert once per user and period. Do not call the provider on NULL.
CREATE FUNCTION check_and_consume_quota(p_user_id bigint, p_tokens bigint, p_cost numeric)
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
       AND (u.tokens_limit IS NULL OR u.tokens_used + p_tokens <= u.tokens_limit)
       AND (u.cost_limit_usd IS NULL OR u.cost_used_usd + p_cost <= u.cost_limit_usd)
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

-- Step 4 of the AI request flow: records one AI request and adds it to the user's daily and
-- monthly aggregates, and settles the quota to its actual tokens and cost. The reservation
-- settled is `p_reservation_id`, else the user's oldest open one; the difference between
-- the estimate and the actual usage is refunded or charged, so the request costs the quota
-- exactly what the aggregates say. Usage beyond the limit (an estimate too low) is charged
-- up to the limit and the excess noted in the request's metadata (quota_overshoot_*): the
-- provider was called already. Without any reservation the actual usage is consumed now,
-- and refused with SQLSTATE WQ429 when it does not fit (nothing is recorded then).
-- p_consume_quota => false records without touching the quota. The cost defaults to the
-- model's prices. Returns the request row; its (id, created_at) is what an assistant message
-- links to.
CREATE FUNCTION record_ai_usage(
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
            SELECT * INTO q FROM user_quotas WHERE user_id = p_user_id FOR UPDATE;
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

-- What is left of a user's quota this period. Row level security applies (invoker): a user
-- sees only their own quota.
CREATE FUNCTION get_remaining_quota(p_user_id bigint)
RETURNS TABLE (
    user_id bigint,
    tier text,
    tokens_limit bigint,
    tokens_used bigint,
    tokens_remaining bigint,
    cost_limit_usd numeric,
    cost_used_usd numeric,
    cost_remaining_usd numeric,
    usage_percent numeric,
    period_end timestamptz)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT q.user_id, t.name, q.tokens_limit, q.tokens_used, q.tokens_limit - q.tokens_used,
           q.cost_limit_usd, q.cost_used_usd, q.cost_limit_usd - q.cost_used_usd,
           quota_usage_percent(q), q.period_end
      FROM user_quotas q
      JOIN subscription_tiers t ON t.id = q.tier_id
     WHERE q.user_id = p_user_id;
END;

-- A user's activity per UTC day over the last `p_days` days (today included), days without
-- activity as zeros: requests, tokens and cost from ai_usage_daily, sessions started and
-- messages sent from the agent tables. Row level security applies (invoker).
CREATE FUNCTION get_user_activity_summary(p_user_id bigint, p_days integer DEFAULT 30)
RETURNS TABLE (
    day date,
    request_count bigint,
    total_tokens bigint,
    cost_usd numeric,
    sessions_started bigint,
    messages_sent bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT g.day::date,
           coalesce(d.request_count, 0)::bigint,
           coalesce(d.total_tokens, 0)::bigint,
           coalesce(d.cost_usd, 0),
           (SELECT count(*) FROM agent_sessions s
             WHERE s.user_id = p_user_id
               AND s.started_at >= g.day AT TIME ZONE 'UTC'
               AND s.started_at < (g.day + interval '1 day') AT TIME ZONE 'UTC'),
           (SELECT count(*) FROM agent_messages m JOIN agent_sessions s ON s.id = m.session_id
             WHERE s.user_id = p_user_id AND m.role = 'user'
               AND m.created_at >= g.day AT TIME ZONE 'UTC'
               AND m.created_at < (g.day + interval '1 day') AT TIME ZONE 'UTC')
      FROM generate_series(((now() AT TIME ZONE 'UTC')::date - (greatest(p_days, 1) - 1))::timestamp,
                           (now() AT TIME ZONE 'UTC')::date::timestamp, interval '1 day') AS g(day)
      LEFT JOIN ai_usage_daily d ON d.user_id = p_user_id AND d.usage_date = g.day::date
     ORDER BY g.day DESC;
END;

-- Who to warn: the quotas at 80% or more of their token limit. The WHERE is the predicate of
-- idx_quotas_approaching_limit, written the same way, so the planner uses that index.
-- security_invoker: row level security of user_quotas applies to the caller.
CREATE VIEW quotas_approaching_limit WITH (security_invoker = true) AS
    SELECT q.user_id, q.tokens_used, q.tokens_limit, quota_usage_percent(q) AS usage_percent,
           q.period_end
      FROM user_quotas q
     WHERE q.tokens_limit IS NOT NULL AND q.tokens_used * 5 >= q.tokens_limit * 4;
REVOKE ALL ON quotas_approaching_limit FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON quotas_approaching_limit TO service_role;

-- The audit retention policy, in one place. audit_logs holds the last 90 days (the
-- overview's daily "archive old audit logs"); older rows move to audit_logs_archive, which
-- keeps every event for two years from when it happened, so data older than a year is
-- archived, not lost (the overview: "archive old data (>1 year) to separate tables");
-- daily_maintenance() deletes archived events older than two years.
--
-- cleanup_old_audit_logs(days) moves audit rows older than `days` days from audit_logs into
-- the archive (it never deletes an event before its retention ends). Returns how many moved.
CREATE FUNCTION cleanup_old_audit_logs(p_days integer DEFAULT 90)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    moved bigint;
BEGIN
    IF p_days IS NULL OR p_days < 1 THEN
        RAISE EXCEPTION 'days must be 1 or more, not %', p_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH gone AS (
        DELETE FROM audit_logs WHERE created_at < now() - make_interval(days => p_days) RETURNING *)
    INSERT INTO audit_logs_archive (id, user_id, actor_user_id, event_type, severity, success,
                                    ip_address, user_agent, metadata, created_at)
    SELECT id, user_id, actor_user_id, event_type, severity, success,
           ip_address, user_agent, metadata, created_at
      FROM gone;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END;
$$;

-- Daily (02:00): deletes expired access tokens (and revoked ones a day after revocation) and
-- expired or used reset and verification tokens; ends agent sessions inactive for 24 hours;
-- moves audit rows older than 90 days into audit_logs_archive and deletes archived ones past
-- their two years (the retention policy above); prepares the ai_usage_requests
-- partitions for the next three months. Returns what it did.
CREATE FUNCTION daily_maintenance()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    tokens bigint;
    revoked bigint;
    resets bigint;
    verifications bigint;
    sessions bigint;
    archived bigint;
    partitions integer;
    released bigint;
    purged bigint;
BEGIN
    -- reservations of requests that never settled (the request failed): given back
    WITH gone AS (
        UPDATE quota_reservations r SET settled_at = now(), settled_by = 'released'
         WHERE r.settled_at IS NULL AND r.created_at < now() - interval '1 hour'
        RETURNING r.user_id, r.tokens AS held_tokens, r.cost_usd AS held_cost, r.period_start),
    refund AS (
        SELECT g.user_id, sum(g.held_tokens) AS back_tokens, sum(g.held_cost) AS back_cost
          FROM gone g JOIN user_quotas q ON q.user_id = g.user_id AND q.period_start = g.period_start
         GROUP BY g.user_id),
    refunded AS (
        UPDATE user_quotas q
           SET tokens_used = greatest(0, q.tokens_used - refund.back_tokens),
               cost_used_usd = greatest(0, q.cost_used_usd - refund.back_cost)
          FROM refund WHERE q.user_id = refund.user_id
        RETURNING q.user_id)
    SELECT count(*) INTO released FROM gone;
    DELETE FROM quota_reservations WHERE settled_at < now() - interval '31 days';
    -- two statements, not one with OR, so that each uses its index
    DELETE FROM access_tokens WHERE expires_at < now();
    GET DIAGNOSTICS tokens = ROW_COUNT;
    DELETE FROM access_tokens WHERE revoked_at < now() - interval '1 day';
    GET DIAGNOSTICS revoked = ROW_COUNT;
    tokens := tokens + revoked;
    DELETE FROM password_reset_tokens WHERE expires_at < now() OR used_at IS NOT NULL;
    GET DIAGNOSTICS resets = ROW_COUNT;
    DELETE FROM email_verify_tokens WHERE expires_at < now() OR verified_at IS NOT NULL;
    GET DIAGNOSTICS verifications = ROW_COUNT;
    UPDATE agent_sessions SET is_active = false, ended_at = now()
     WHERE is_active AND last_activity_at < now() - interval '24 hours';
    GET DIAGNOSTICS sessions = ROW_COUNT;
    archived := cleanup_old_audit_logs(90);
    DELETE FROM audit_logs_archive WHERE created_at < now() - interval '2 years';
    GET DIAGNOSTICS purged = ROW_COUNT;
    partitions := ensure_ai_usage_partitions(3);
    RETURN jsonb_build_object(
        'expired_access_tokens_deleted', tokens,
        'password_reset_tokens_deleted', resets,
        'email_verify_tokens_deleted', verifications,
        'inactive_sessions_ended', sessions,
        'audit_logs_archived', archived,
        'audit_logs_archive_purged', purged,
        'partitions_created', partitions,
        'quota_reservations_released', released);
END;
$$;

-- Monthly (1st, 00:00): updates subscription statuses (canceled at period end, expired
-- trials, past-due beyond a 7-day grace); resets every quota whose period has ended and gives
-- it the limits of the user's current tier (free without a live subscription); recomputes
-- last month's ai_usage_monthly from the daily aggregates (the monthly report); refreshes
-- agent_session_stats. Returns what it did.
CREATE FUNCTION monthly_maintenance()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    canceled bigint;
    expired bigint;
    quotas_reset bigint;
    reported bigint;
    free_id integer;
    this_month timestamptz := date_trunc('month', now(), 'UTC');
    last_month date := (date_trunc('month', now(), 'UTC') - interval '1 month') AT TIME ZONE 'UTC';
BEGIN
    UPDATE user_subscriptions
       SET status = 'canceled', canceled_at = coalesce(canceled_at, now())
     WHERE cancel_at_period_end AND current_period_end <= now()
       AND status IN ('trialing', 'active', 'past_due');
    GET DIAGNOSTICS canceled = ROW_COUNT;
    UPDATE user_subscriptions
       SET status = 'expired'
     WHERE (status = 'trialing' AND current_period_end <= now())
        OR (status = 'past_due' AND current_period_end <= now() - interval '7 days');
    GET DIAGNOSTICS expired = ROW_COUNT;

    SELECT id INTO free_id FROM subscription_tiers WHERE name = 'free';
    UPDATE user_quotas q
       SET tier_id = coalesce(live.tier_id, free_id),
           tokens_limit = t.monthly_token_limit,
           cost_limit_usd = t.monthly_cost_limit_usd,
           tokens_used = 0,
           cost_used_usd = 0,
           period_start = this_month,
           period_end = this_month + interval '1 month'
      FROM user_quotas q2
      LEFT JOIN user_subscriptions live
             ON live.user_id = q2.user_id AND live.status IN ('trialing', 'active', 'past_due')
      JOIN subscription_tiers t ON t.id = coalesce(live.tier_id, free_id)
     WHERE q2.user_id = q.user_id AND q.period_end <= now();
    GET DIAGNOSTICS quotas_reset = ROW_COUNT;

    INSERT INTO ai_usage_monthly AS mo (user_id, year, month, request_count, input_tokens, output_tokens, total_tokens, cost_usd)
    SELECT d.user_id, extract(year FROM last_month), extract(month FROM last_month),
           sum(d.request_count), sum(d.input_tokens), sum(d.output_tokens), sum(d.total_tokens), sum(d.cost_usd)
      FROM ai_usage_daily d
     WHERE d.usage_date >= last_month AND d.usage_date < (last_month + interval '1 month')::date
     GROUP BY d.user_id
    ON CONFLICT (user_id, year, month) DO UPDATE
       SET request_count = EXCLUDED.request_count,
           input_tokens = EXCLUDED.input_tokens,
           output_tokens = EXCLUDED.output_tokens,
           total_tokens = EXCLUDED.total_tokens,
           cost_usd = EXCLUDED.cost_usd,
           updated_at = now();
    GET DIAGNOSTICS reported = ROW_COUNT;

    REFRESH MATERIALIZED VIEW CONCURRENTLY agent_session_stats;
    RETURN jsonb_build_object(
        'subscriptions_canceled', canceled,
        'subscriptions_expired', expired,
        'quotas_reset', quotas_reset,
        'monthly_usage_rows', reported,
        'session_stats_refreshed', true);
END;
$$;

REVOKE ALL ON FUNCTION
    create_user_with_profile(text, text, text),
    quota_usage_percent(user_quotas),
    write_usage_alerts(bigint, numeric, numeric, timestamptz),
    check_and_consume_quota(bigint, bigint, numeric),
    record_ai_usage(bigint, integer, integer, integer, integer, numeric, integer, text, text, text, jsonb, boolean, bigint),
    get_remaining_quota(bigint),
    get_user_activity_summary(bigint, integer),
    cleanup_old_audit_logs(integer),
    daily_maintenance(),
    monthly_maintenance()
    FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION
    create_user_with_profile(text, text, text),
    quota_usage_percent(user_quotas),
    check_and_consume_quota(bigint, bigint, numeric),
    record_ai_usage(bigint, integer, integer, integer, integer, numeric, integer, text, text, text, jsonb, boolean, bigint),
    get_remaining_quota(bigint),
    get_user_activity_summary(bigint, integer),
    cleanup_old_audit_logs(integer),
    daily_maintenance(),
    monthly_maintenance()
    TO service_role;
GRANT EXECUTE ON FUNCTION
    quota_usage_percent(user_quotas),
    get_remaining_quota(bigint),
    get_user_activity_summary(bigint, integer)
    TO authenticated;
