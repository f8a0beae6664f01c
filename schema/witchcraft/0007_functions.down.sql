DROP FUNCTION monthly_maintenance();
DROP FUNCTION daily_maintenance();
DROP FUNCTION cleanup_old_audit_logs(integer);
DROP FUNCTION get_user_activity_summary(bigint, integer);
DROP FUNCTION get_remaining_quota(bigint);
DROP FUNCTION record_ai_usage(bigint, integer, integer, integer, integer, numeric, integer, text, text, text, jsonb, boolean);
DROP FUNCTION check_and_consume_quota(bigint, bigint, numeric);
DROP FUNCTION quota_usage_percent(user_quotas);
DROP FUNCTION create_user_with_profile(text, text, text);
