-- The overview's ten named indexes, each shaped for the query it names, plus an index behind
-- every foreign key (so deleting a parent never scans a child table) and GIN indexes on the
-- JSONB columns that are searched.

-- High-performance queries
-- A user's recent activity: their requests, newest first.
CREATE INDEX idx_ai_usage_user_recent ON ai_usage_requests (user_id, created_at DESC);
-- A user's active sessions, most recently used first (the "get active sessions" query).
CREATE INDEX idx_agent_sessions_user_active ON agent_sessions (user_id, last_activity_at DESC)
    WHERE is_active;
-- Quotas at 80% or more of their token limit: who to warn. Written with integers so the
-- predicate is exact (tokens_used / tokens_limit >= 0.8).
CREATE INDEX idx_quotas_approaching_limit ON user_quotas (user_id)
    WHERE tokens_limit IS NOT NULL AND tokens_used * 5 >= tokens_limit * 4;
-- Token validation: one lookup by the SHA-256 of the presented token; unique.
CREATE UNIQUE INDEX idx_access_tokens_token_hash ON access_tokens (token_hash);

-- Analytics queries
-- Provider comparison over a time range (requests, tokens, cost, latency per provider).
CREATE INDEX idx_ai_usage_provider_comparison ON ai_usage_requests (provider_id, created_at)
    INCLUDE (total_tokens, cost_usd, latency_ms);
-- Model popularity over a time range.
CREATE INDEX idx_model_popularity ON ai_usage_requests (model_id, created_at);
-- Cost analysis: the biggest spenders of a month.
CREATE INDEX idx_ai_usage_monthly_cost ON ai_usage_monthly (year, month, cost_usd DESC);

-- Security queries
-- Failed logins in a time window (spike detection) and per user.
CREATE INDEX idx_audit_logs_failed_logins ON audit_logs (created_at DESC, user_id)
    WHERE event_type = 'login_failed';
-- Expired tokens, for cleanup.
CREATE INDEX idx_access_tokens_expired ON access_tokens (expires_at);
-- Revoked tokens, for cleanup a day after revocation (most tokens are never revoked).
CREATE INDEX idx_access_tokens_revoked ON access_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
-- Security events: everything above info severity.
CREATE INDEX idx_audit_logs_security ON audit_logs (created_at DESC)
    WHERE severity IN ('warning', 'critical');

-- Foreign keys not already led by another index.
CREATE INDEX idx_access_tokens_user_id ON access_tokens (user_id);
CREATE INDEX idx_password_reset_tokens_user_id ON password_reset_tokens (user_id);
CREATE INDEX idx_email_verify_tokens_user_id ON email_verify_tokens (user_id);
CREATE INDEX idx_audit_logs_user_id ON audit_logs (user_id, created_at DESC);
CREATE INDEX idx_audit_logs_actor_user_id ON audit_logs (actor_user_id);
CREATE INDEX idx_agent_sessions_user_id ON agent_sessions (user_id);
CREATE INDEX idx_agent_sessions_model_id ON agent_sessions (model_id);
CREATE INDEX idx_agent_messages_session_id ON agent_messages (session_id, created_at);
CREATE INDEX idx_agent_tool_calls_session_id ON agent_tool_calls (session_id);
CREATE INDEX idx_agent_tool_calls_message_id ON agent_tool_calls (message_id);
CREATE INDEX idx_agent_feedback_user_id ON agent_feedback (user_id);
CREATE INDEX idx_agent_feedback_session_id ON agent_feedback (session_id);
CREATE INDEX idx_agent_feedback_message_id ON agent_feedback (message_id, session_id);
CREATE INDEX idx_user_subscriptions_tier_id ON user_subscriptions (tier_id);
CREATE INDEX idx_user_quotas_tier_id ON user_quotas (tier_id);
-- a user's reservations, oldest first: what record_ai_usage() settles
CREATE INDEX idx_quota_reservations_user_id ON quota_reservations (user_id, created_at);
CREATE INDEX idx_payment_history_user_id ON payment_history (user_id, created_at DESC);
CREATE INDEX idx_payment_history_subscription_id ON payment_history (subscription_id);

-- Searched JSONB: security investigations filter audit metadata (ip, email, reason); usage
-- is filtered by request metadata (client, feature); tiers by feature flags.
CREATE INDEX idx_audit_logs_metadata ON audit_logs USING GIN (metadata jsonb_path_ops);
CREATE INDEX idx_ai_usage_requests_metadata ON ai_usage_requests USING GIN (metadata jsonb_path_ops);
CREATE INDEX idx_subscription_tiers_features ON subscription_tiers USING GIN (features);
