-- Keeps updated_at current on every UPDATE of the four tables that have the column
-- (activity_logs is append-only and has none). The function body is the document's; its
-- search_path is pinned so the function cannot be redirected by a caller's search_path.
CREATE FUNCTION update_updated_at_column()
RETURNS TRIGGER
SET search_path = ''
AS $$
BEGIN
  NEW.updated_at = NOW();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- Only triggers call it (a trigger fires without EXECUTE); no role needs to.
REVOKE ALL ON FUNCTION update_updated_at_column() FROM PUBLIC, anon, authenticated, service_role;

CREATE TRIGGER update_users_updated_at
  BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TRIGGER update_clones_updated_at
  BEFORE UPDATE ON ai_clones
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TRIGGER update_tasks_updated_at
  BEFORE UPDATE ON ai_tasks
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TRIGGER update_payments_updated_at
  BEFORE UPDATE ON payments
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
