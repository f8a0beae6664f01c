DROP FUNCTION ensure_ai_usage_partitions(integer);
DROP TABLE ai_usage_monthly;
DROP TABLE ai_usage_daily;
-- Drops every partition and the owned sequence with it.
DROP TABLE ai_usage_requests;
DROP TABLE ai_models;
DROP TABLE ai_providers;
