-- Policies: an authenticated caller reads and writes exactly their own rows.
--
-- Every policy compares against (select auth.uid()): the sub-select is evaluated once per
-- query (an initPlan) instead of once per row. The document's three SELECT policies keep
-- their names; the others complete them.
--
-- users:         own row only. A caller may create and edit their row, but only with
--                role = 'user': roles are granted by the backend (service_role), never by
--                the user themself.
-- ai_clones:     own clones (user_id).
-- ai_tasks:      tasks of own clones (the document's clone-ownership rule, for every command).
-- payments:      read own payments only. Payment rows are written by the backend from the
--                payment provider's notifications (service_role bypasses RLS); a client
--                that could insert or update them could mark its own order as paid.
-- activity_logs: read own entries and append new ones for oneself; no UPDATE or DELETE
--                policy, so a caller can never rewrite or erase their audit trail.
-- anon:          no policy at all: an anonymous caller sees no row of any table.

CREATE POLICY user_select_own ON users
  FOR SELECT TO authenticated
  USING ((select auth.uid()) = id);
CREATE POLICY user_insert_own ON users
  FOR INSERT TO authenticated
  WITH CHECK ((select auth.uid()) = id AND role = 'user');
CREATE POLICY user_update_own ON users
  FOR UPDATE TO authenticated
  USING ((select auth.uid()) = id)
  WITH CHECK ((select auth.uid()) = id AND role = 'user');
CREATE POLICY user_delete_own ON users
  FOR DELETE TO authenticated
  USING ((select auth.uid()) = id);

CREATE POLICY clone_select_own ON ai_clones
  FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY clone_insert_own ON ai_clones
  FOR INSERT TO authenticated
  WITH CHECK ((select auth.uid()) = user_id);
CREATE POLICY clone_update_own ON ai_clones
  FOR UPDATE TO authenticated
  USING ((select auth.uid()) = user_id)
  WITH CHECK ((select auth.uid()) = user_id);
CREATE POLICY clone_delete_own ON ai_clones
  FOR DELETE TO authenticated
  USING ((select auth.uid()) = user_id);

CREATE POLICY task_select_clone ON ai_tasks
  FOR SELECT TO authenticated
  USING (clone_id IN (SELECT id FROM ai_clones WHERE user_id = (select auth.uid())));
CREATE POLICY task_insert_clone ON ai_tasks
  FOR INSERT TO authenticated
  WITH CHECK (clone_id IN (SELECT id FROM ai_clones WHERE user_id = (select auth.uid())));
CREATE POLICY task_update_clone ON ai_tasks
  FOR UPDATE TO authenticated
  USING (clone_id IN (SELECT id FROM ai_clones WHERE user_id = (select auth.uid())))
  WITH CHECK (clone_id IN (SELECT id FROM ai_clones WHERE user_id = (select auth.uid())));
CREATE POLICY task_delete_clone ON ai_tasks
  FOR DELETE TO authenticated
  USING (clone_id IN (SELECT id FROM ai_clones WHERE user_id = (select auth.uid())));

CREATE POLICY payment_select_own ON payments
  FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id);

CREATE POLICY log_select_own ON activity_logs
  FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY log_insert_own ON activity_logs
  FOR INSERT TO authenticated
  WITH CHECK ((select auth.uid()) = user_id);
