-- migrate:no-transaction
-- Drops exactly the indexes 0003 created, concurrently, so rolling back never blocks writes.
DROP INDEX CONCURRENTLY IF EXISTS idx_users_created_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_clones_user_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_clones_status;
DROP INDEX CONCURRENTLY IF EXISTS idx_clones_created_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_clones_config;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_clone_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_status;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_priority;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_created_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_completed_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_input;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_output;
DROP INDEX CONCURRENTLY IF EXISTS idx_active_tasks;
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_clone_status;
DROP INDEX CONCURRENTLY IF EXISTS idx_payments_status;
DROP INDEX CONCURRENTLY IF EXISTS idx_payments_user_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_payments_created_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_payments_amount;
DROP INDEX CONCURRENTLY IF EXISTS idx_payments_metadata;
DROP INDEX CONCURRENTLY IF EXISTS idx_logs_type;
DROP INDEX CONCURRENTLY IF EXISTS idx_logs_entity_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_logs_level;
DROP INDEX CONCURRENTLY IF EXISTS idx_logs_created_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_logs_user_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_logs_details;
