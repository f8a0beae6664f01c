-- Row level security, on the overview's principle: users own their data, admins see
-- everything, and nobody else sees anything.
--
-- * The 13 protected tables (users, user_profiles, access_tokens, ai_usage_requests,
--   ai_usage_daily, ai_usage_monthly, agent_sessions, agent_messages, agent_tool_calls,
--   user_subscriptions, user_quotas, payment_history, audit_logs), and agent_feedback and
--   usage_alerts, which also belong to a user: a caller reads their own rows
--   (<table>_select_own) and an admin reads all (<table>_select_admin).
-- * Writes by callers are limited to what the product lets a user do: edit their profile,
--   open, rename and end their agent sessions, post their own (role 'user') messages, rate
--   them, acknowledge alerts and revoke their tokens. Everything else (accounts, usage,
--   quotas, subscriptions, payments, audit) is written by the backend through the functions
--   of 0007 or as service_role.
-- * password_reset_tokens, email_verify_tokens and the partitions have RLS and no
--   policy: closed to every API role. audit_logs_archive is readable by admins only.
-- * ai_providers, ai_models and subscription_tiers are readable by anyone (anon too), but
--   only their active (models: of an active provider) / public rows; admins see all rows.
--   No API role may write them.
-- * Helpers are called as (select witchcraft_auth.helper()): evaluated once per query, not
--   once per row. They replace the overview's auth.user_id() / auth.is_admin(), which
--   Supabase no longer lets anyone create in its auth schema (see 0001).


CREATE POLICY users_select_own ON users
    FOR SELECT TO authenticated
    USING (id = (select witchcraft_auth.user_id()));

CREATE POLICY users_select_admin ON users
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY user_profiles_select_own ON user_profiles
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY user_profiles_select_admin ON user_profiles
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY access_tokens_select_own ON access_tokens
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY access_tokens_select_admin ON access_tokens
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY ai_usage_requests_select_own ON ai_usage_requests
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY ai_usage_requests_select_admin ON ai_usage_requests
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY ai_usage_daily_select_own ON ai_usage_daily
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY ai_usage_daily_select_admin ON ai_usage_daily
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY ai_usage_monthly_select_own ON ai_usage_monthly
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY ai_usage_monthly_select_admin ON ai_usage_monthly
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY agent_sessions_select_own ON agent_sessions
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY agent_sessions_select_admin ON agent_sessions
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY agent_messages_select_own ON agent_messages
    FOR SELECT TO authenticated
    USING (session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())));

CREATE POLICY agent_messages_select_admin ON agent_messages
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY agent_tool_calls_select_own ON agent_tool_calls
    FOR SELECT TO authenticated
    USING (session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())));

CREATE POLICY agent_tool_calls_select_admin ON agent_tool_calls
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY user_subscriptions_select_own ON user_subscriptions
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY user_subscriptions_select_admin ON user_subscriptions
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY user_quotas_select_own ON user_quotas
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY user_quotas_select_admin ON user_quotas
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY payment_history_select_own ON payment_history
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY payment_history_select_admin ON payment_history
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY audit_logs_select_own ON audit_logs
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY audit_logs_select_admin ON audit_logs
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY agent_feedback_select_own ON agent_feedback
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY agent_feedback_select_admin ON agent_feedback
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY usage_alerts_select_own ON usage_alerts
    FOR SELECT TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY usage_alerts_select_admin ON usage_alerts
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY user_profiles_update_own ON user_profiles
    FOR UPDATE TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()))
    WITH CHECK (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY access_tokens_update_own ON access_tokens
    FOR UPDATE TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()))
    WITH CHECK (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY agent_sessions_insert_own ON agent_sessions
    FOR INSERT TO authenticated
    WITH CHECK (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY agent_sessions_update_own ON agent_sessions
    FOR UPDATE TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()))
    WITH CHECK (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY agent_messages_insert_own ON agent_messages
    FOR INSERT TO authenticated
    WITH CHECK (role = 'user' AND usage_request_id IS NULL AND session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())));

CREATE POLICY agent_feedback_insert_own ON agent_feedback
    FOR INSERT TO authenticated
    WITH CHECK (user_id = (select witchcraft_auth.user_id()) AND session_id IN (SELECT s.id FROM agent_sessions s WHERE s.user_id = (select witchcraft_auth.user_id())));

CREATE POLICY usage_alerts_update_own ON usage_alerts
    FOR UPDATE TO authenticated
    USING (user_id = (select witchcraft_auth.user_id()))
    WITH CHECK (user_id = (select witchcraft_auth.user_id()));

CREATE POLICY audit_logs_archive_select_admin ON audit_logs_archive
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY ai_providers_select_active ON ai_providers
    FOR SELECT TO anon, authenticated
    USING (is_active);

CREATE POLICY ai_providers_select_admin ON ai_providers
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY ai_models_select_active ON ai_models
    FOR SELECT TO anon, authenticated
    USING (is_active AND provider_id IN (SELECT p.id FROM ai_providers p WHERE p.is_active));

CREATE POLICY ai_models_select_admin ON ai_models
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));

CREATE POLICY subscription_tiers_select_public ON subscription_tiers
    FOR SELECT TO anon, authenticated
    USING (is_public AND is_active);

CREATE POLICY subscription_tiers_select_admin ON subscription_tiers
    FOR SELECT TO authenticated
    USING ((select witchcraft_auth.is_admin()));
