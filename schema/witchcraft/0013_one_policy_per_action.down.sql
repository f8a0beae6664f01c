-- 0013 one_policy_per_action, reverted: the pairs of 0006 come back, and the two reporting
-- functions lose their pinned search_path again.

DROP POLICY users_select_own_or_admin ON users;
CREATE POLICY users_select_own ON users
    FOR SELECT TO authenticated
    USING (id = (select witchcraft_auth.user_id()));
CREATE POLICY users_select_admin ON users
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY user_profiles_select_own_or_admin ON user_profiles;
CREATE POLICY user_profiles_select_own ON user_profiles
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY user_profiles_select_admin ON user_profiles
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY access_tokens_select_own_or_admin ON access_tokens;
CREATE POLICY access_tokens_select_own ON access_tokens
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY access_tokens_select_admin ON access_tokens
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY ai_usage_requests_select_own_or_admin ON ai_usage_requests;
CREATE POLICY ai_usage_requests_select_own ON ai_usage_requests
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY ai_usage_requests_select_admin ON ai_usage_requests
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY ai_usage_daily_select_own_or_admin ON ai_usage_daily;
CREATE POLICY ai_usage_daily_select_own ON ai_usage_daily
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY ai_usage_daily_select_admin ON ai_usage_daily
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY ai_usage_monthly_select_own_or_admin ON ai_usage_monthly;
CREATE POLICY ai_usage_monthly_select_own ON ai_usage_monthly
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY ai_usage_monthly_select_admin ON ai_usage_monthly
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY agent_sessions_select_own_or_admin ON agent_sessions;
CREATE POLICY agent_sessions_select_own ON agent_sessions
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY agent_sessions_select_admin ON agent_sessions
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY agent_messages_select_own_or_admin ON agent_messages;
CREATE POLICY agent_messages_select_own ON agent_messages
    FOR SELECT TO authenticated
    USING (session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())));
CREATE POLICY agent_messages_select_admin ON agent_messages
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY agent_tool_calls_select_own_or_admin ON agent_tool_calls;
CREATE POLICY agent_tool_calls_select_own ON agent_tool_calls
    FOR SELECT TO authenticated
    USING (session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())));
CREATE POLICY agent_tool_calls_select_admin ON agent_tool_calls
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY user_subscriptions_select_own_or_admin ON user_subscriptions;
CREATE POLICY user_subscriptions_select_own ON user_subscriptions
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY user_subscriptions_select_admin ON user_subscriptions
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY user_quotas_select_own_or_admin ON user_quotas;
CREATE POLICY user_quotas_select_own ON user_quotas
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY user_quotas_select_admin ON user_quotas
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY payment_history_select_own_or_admin ON payment_history;
CREATE POLICY payment_history_select_own ON payment_history
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY payment_history_select_admin ON payment_history
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY audit_logs_select_own_or_admin ON audit_logs;
CREATE POLICY audit_logs_select_own ON audit_logs
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY audit_logs_select_admin ON audit_logs
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY agent_feedback_select_own_or_admin ON agent_feedback;
CREATE POLICY agent_feedback_select_own ON agent_feedback
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY agent_feedback_select_admin ON agent_feedback
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY usage_alerts_select_own_or_admin ON usage_alerts;
CREATE POLICY usage_alerts_select_own ON usage_alerts
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));
CREATE POLICY usage_alerts_select_admin ON usage_alerts
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY ai_providers_select_active_or_admin ON ai_providers;
ALTER POLICY ai_providers_select_active ON ai_providers TO anon, authenticated;
CREATE POLICY ai_providers_select_admin ON ai_providers
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY ai_models_select_active_or_admin ON ai_models;
ALTER POLICY ai_models_select_active ON ai_models TO anon, authenticated;
CREATE POLICY ai_models_select_admin ON ai_models
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

DROP POLICY subscription_tiers_select_public_or_admin ON subscription_tiers;
ALTER POLICY subscription_tiers_select_public ON subscription_tiers TO anon, authenticated;
CREATE POLICY subscription_tiers_select_admin ON subscription_tiers
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

ALTER FUNCTION get_remaining_quota(bigint) RESET search_path;
ALTER FUNCTION get_user_activity_summary(bigint, integer) RESET search_path;
