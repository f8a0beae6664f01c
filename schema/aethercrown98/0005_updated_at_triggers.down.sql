DROP TRIGGER update_payments_updated_at ON payments;
DROP TRIGGER update_tasks_updated_at ON ai_tasks;
DROP TRIGGER update_clones_updated_at ON ai_clones;
DROP TRIGGER update_users_updated_at ON users;
DROP FUNCTION update_updated_at_column();
