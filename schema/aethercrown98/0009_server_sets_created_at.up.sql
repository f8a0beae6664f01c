-- 0009 server_sets_created_at: a signed-in user could set created_at on the rows they write,
-- so an entry of activity_logs (the document's audit log) could be backdated: an insert
-- dated 2027-06-15 was accepted, as was moving the date of an existing clone or task.
--
-- The server now sets created_at: authenticated may write every other column it could
-- write before (row level security still decides which rows), and created_at is left to
-- its DEFAULT now(). An insert or update that names created_at is refused with
-- "permission denied". service_role keeps writing every column (backfills, imports).
-- Revoking the table-wide privileges and granting the column list in one transaction
-- leaves no moment without them.

REVOKE INSERT, UPDATE ON users, ai_clones, ai_tasks, activity_logs FROM authenticated;

GRANT INSERT (id, email, name, password_hash, role, updated_at, last_login),
      UPDATE (id, email, name, password_hash, role, updated_at, last_login)
    ON users TO authenticated;

GRANT INSERT (id, name, description, model_type, status, config, updated_at, user_id),
      UPDATE (id, name, description, model_type, status, config, updated_at, user_id)
    ON ai_clones TO authenticated;

GRANT INSERT (id, clone_id, task_name, task_input, task_output, status, priority,
              error_message, updated_at, completed_at),
      UPDATE (id, clone_id, task_name, task_input, task_output, status, priority,
              error_message, updated_at, completed_at)
    ON ai_tasks TO authenticated;

GRANT INSERT (id, log_type, entity_id, action, details, level, user_id),
      UPDATE (id, log_type, entity_id, action, details, level, user_id)
    ON activity_logs TO authenticated;
