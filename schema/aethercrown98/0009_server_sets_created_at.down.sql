-- 0009 server_sets_created_at, reverted: authenticated writes every column again. Revoking
-- a table's privilege revokes the column privileges of the same kind with it.

REVOKE INSERT, UPDATE ON users, ai_clones, ai_tasks, activity_logs FROM authenticated;
GRANT INSERT, UPDATE ON users, ai_clones, ai_tasks, activity_logs TO authenticated;
