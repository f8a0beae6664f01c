-- 0013 one_policy_per_action: Supabase's advisors flagged two things in Witchcraft.
--
-- * multiple_permissive_policies: each protected table had two permissive SELECT policies
--   for authenticated, <table>_select_own and <table>_select_admin (0006), so Postgres
--   evaluated both for every row. Each pair becomes one policy, <table>_select_own_or_admin,
--   whose condition is the two conditions ORed: the same rows are visible to the same
--   callers (the access matrix in docs/schemas.md is unchanged, and a test measures it).
--   ai_providers, ai_models and subscription_tiers had the same overlap for authenticated:
--   <table>_select_active (or _public), for anon and authenticated, beside
--   <table>_select_admin. The first now applies to anon alone, and authenticated gets one
--   policy, <table>_select_active_or_admin (_public_or_admin), with both conditions.
--   Dropped and created in this one transaction, so no caller ever sees a table without
--   its policy.
-- * function_search_path_mutable: get_remaining_quota and get_user_activity_summary had no
--   pinned search_path. Their bodies are SQL-standard (names resolved when they were
--   created), so pinning changes nothing they resolve; it does stop the planner from
--   inlining them, so they now run their own plans (still on the same indexes, which a test
--   measures with the index's scan count).

-- The functions pin the search_path they are given here: the set's schema, then pg_temp,
-- as every other function of the set.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

DROP POLICY users_select_own ON users;
DROP POLICY users_select_admin ON users;
CREATE POLICY users_select_own_or_admin ON users
    FOR SELECT TO authenticated
    USING (id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY user_profiles_select_own ON user_profiles;
DROP POLICY user_profiles_select_admin ON user_profiles;
CREATE POLICY user_profiles_select_own_or_admin ON user_profiles
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY access_tokens_select_own ON access_tokens;
DROP POLICY access_tokens_select_admin ON access_tokens;
CREATE POLICY access_tokens_select_own_or_admin ON access_tokens
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY ai_usage_requests_select_own ON ai_usage_requests;
DROP POLICY ai_usage_requests_select_admin ON ai_usage_requests;
CREATE POLICY ai_usage_requests_select_own_or_admin ON ai_usage_requests
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY ai_usage_daily_select_own ON ai_usage_daily;
DROP POLICY ai_usage_daily_select_admin ON ai_usage_daily;
CREATE POLICY ai_usage_daily_select_own_or_admin ON ai_usage_daily
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY ai_usage_monthly_select_own ON ai_usage_monthly;
DROP POLICY ai_usage_monthly_select_admin ON ai_usage_monthly;
CREATE POLICY ai_usage_monthly_select_own_or_admin ON ai_usage_monthly
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY agent_sessions_select_own ON agent_sessions;
DROP POLICY agent_sessions_select_admin ON agent_sessions;
CREATE POLICY agent_sessions_select_own_or_admin ON agent_sessions
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY agent_messages_select_own ON agent_messages;
DROP POLICY agent_messages_select_admin ON agent_messages;
CREATE POLICY agent_messages_select_own_or_admin ON agent_messages
    FOR SELECT TO authenticated
    USING (session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())) OR (select witchcraft_auth.is_admin()));

DROP POLICY agent_tool_calls_select_own ON agent_tool_calls;
DROP POLICY agent_tool_calls_select_admin ON agent_tool_calls;
CREATE POLICY agent_tool_calls_select_own_or_admin ON agent_tool_calls
    FOR SELECT TO authenticated
    USING (session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())) OR (select witchcraft_auth.is_admin()));

DROP POLICY user_subscriptions_select_own ON user_subscriptions;
DROP POLICY user_subscriptions_select_admin ON user_subscriptions;
CREATE POLICY user_subscriptions_select_own_or_admin ON user_subscriptions
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY user_quotas_select_own ON user_quotas;
DROP POLICY user_quotas_select_admin ON user_quotas;
CREATE POLICY user_quotas_select_own_or_admin ON user_quotas
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY payment_history_select_own ON payment_history;
DROP POLICY payment_history_select_admin ON payment_history;
CREATE POLICY payment_history_select_own_or_admin ON payment_history
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY audit_logs_select_own ON audit_logs;
DROP POLICY audit_logs_select_admin ON audit_logs;
CREATE POLICY audit_logs_select_own_or_admin ON audit_logs
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY agent_feedback_select_own ON agent_feedback;
DROP POLICY agent_feedback_select_admin ON agent_feedback;
CREATE POLICY agent_feedback_select_own_or_admin ON agent_feedback
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

DROP POLICY usage_alerts_select_own ON usage_alerts;
DROP POLICY usage_alerts_select_admin ON usage_alerts;
CREATE POLICY usage_alerts_select_own_or_admin ON usage_alerts
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()) OR (select witchcraft_auth.is_admin()));

ALTER POLICY ai_providers_select_active ON ai_providers TO anon;
DROP POLICY ai_providers_select_admin ON ai_providers;
CREATE POLICY ai_providers_select_active_or_admin ON ai_providers
    FOR SELECT TO authenticated
    USING ((is_active) OR (select witchcraft_auth.is_admin()));

ALTER POLICY ai_models_select_active ON ai_models TO anon;
DROP POLICY ai_models_select_admin ON ai_models;
CREATE POLICY ai_models_select_active_or_admin ON ai_models
    FOR SELECT TO authenticated
    USING ((is_active AND provider_id IN (SELECT p.id FROM ai_providers p WHERE p.is_active)) OR (select witchcraft_auth.is_admin()));

ALTER POLICY subscription_tiers_select_public ON subscription_tiers TO anon;
DROP POLICY subscription_tiers_select_admin ON subscription_tiers;
CREATE POLICY subscription_tiers_select_public_or_admin ON subscription_tiers
    FOR SELECT TO authenticated
    USING ((is_public AND is_active) OR (select witchcraft_auth.is_admin()));

ALTER FUNCTION get_remaining_quota(bigint) SET search_path FROM CURRENT;
ALTER FUNCTION get_user_activity_summary(bigint, integer) SET search_path FROM CURRENT;
