-- migrate:no-transaction
-- The document's indexes, built CONCURRENTLY so that adding them to a live database never
-- blocks writes (hence no transaction: CREATE INDEX CONCURRENTLY cannot run inside one).
-- IF NOT EXISTS makes a re-run after a partial failure safe.
--
-- One index per distinct definition. Left out on purpose, because an identical index
-- already exists:
--   idx_users_email       = users_email_key, the index of UNIQUE (email)
--   idx_payments_order_id = payments_order_id_key, the index of UNIQUE (order_id)
--   idx_clone_config_gin  = idx_clones_config, GIN (config) on ai_clones

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_created_at ON users(created_at);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_clones_user_id ON ai_clones(user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_clones_status ON ai_clones(status);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_clones_created_at ON ai_clones(created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_clones_config ON ai_clones USING GIN (config);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_clone_id ON ai_tasks(clone_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_status ON ai_tasks(status);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_priority ON ai_tasks(priority);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_created_at ON ai_tasks(created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_completed_at ON ai_tasks(completed_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_input ON ai_tasks USING GIN (task_input);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_output ON ai_tasks USING GIN (task_output);
-- Partial: the open tasks of a clone, the queue workers poll. The document's
-- `status IN ('pending', 'in_progress')`, with the comparison written in text so that the
-- definition Postgres prints recreates exactly this index (diff --sql relies on that).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_active_tasks ON ai_tasks(clone_id)
  WHERE status::text IN ('pending'::text, 'in_progress'::text);
-- Composite: a clone's tasks filtered by status.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_clone_status ON ai_tasks(clone_id, status);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_payments_status ON payments(status);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_payments_user_id ON payments(user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_payments_created_at ON payments(created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_payments_amount ON payments(amount);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_payments_metadata ON payments USING GIN (metadata);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_type ON activity_logs(log_type);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_entity_id ON activity_logs(entity_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_level ON activity_logs(level);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_created_at ON activity_logs(created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_user_id ON activity_logs(user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_details ON activity_logs USING GIN (details);
