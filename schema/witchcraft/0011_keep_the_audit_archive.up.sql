-- 0011 keep_the_audit_archive: daily_maintenance() deleted audit_logs_archive rows older than
-- two years. The product overview says to archive data older than a year to separate
-- tables, never to delete it. The archive is now kept; a purge is an explicit setting,
-- off unless an operator turns it on for the database:
--
--   ALTER DATABASE <db> SET witchcraft.purge_audit_archive_after = '2 years';
--
-- (any interval; daily_maintenance() then deletes archived events older than that, and
-- reports how many in `audit_logs_archive_purged`).

-- The function pins the search_path it is created with: the set's schema, then pg_temp.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE OR REPLACE FUNCTION daily_maintenance()
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
    purged bigint := 0;
    purge_after interval;
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
    -- the archive is kept unless an operator asked for a purge (see above)
    purge_after := nullif(current_setting('witchcraft.purge_audit_archive_after', true), '')::interval;
    IF purge_after IS NOT NULL THEN
        DELETE FROM audit_logs_archive WHERE created_at < now() - purge_after;
        GET DIAGNOSTICS purged = ROW_COUNT;
    END IF;
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
