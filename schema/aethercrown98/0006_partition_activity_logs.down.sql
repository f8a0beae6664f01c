-- Turns activity_logs back into the plain table 0002-0004 made: same columns (created_at
-- nullable again), primary key (id), foreign key, the six indexes, RLS, grants and policies,
-- with the same names. Every row of every partition is kept.

-- Locked first, so that no row committed meanwhile is lost with the partitioned table.
LOCK TABLE activity_logs IN ACCESS EXCLUSIVE MODE;

DROP FUNCTION ensure_activity_logs_partitions(integer);

CREATE TABLE activity_logs_unpartitioned (
  id UUID DEFAULT gen_random_uuid(),
  log_type VARCHAR(50) NOT NULL,
  entity_id UUID NOT NULL,
  action VARCHAR(255) NOT NULL,
  details JSONB DEFAULT '{}',
  level VARCHAR(50) DEFAULT 'info',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  user_id UUID
);
INSERT INTO activity_logs_unpartitioned SELECT * FROM activity_logs;
-- Drops the partitions with it.
DROP TABLE activity_logs;
ALTER TABLE activity_logs_unpartitioned RENAME TO activity_logs;

ALTER TABLE activity_logs ADD CONSTRAINT activity_logs_pkey PRIMARY KEY (id);
ALTER TABLE activity_logs ADD CONSTRAINT activity_logs_user_id_fkey
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL;

CREATE INDEX idx_logs_type ON activity_logs(log_type);
CREATE INDEX idx_logs_entity_id ON activity_logs(entity_id);
CREATE INDEX idx_logs_level ON activity_logs(level);
CREATE INDEX idx_logs_created_at ON activity_logs(created_at DESC);
CREATE INDEX idx_logs_user_id ON activity_logs(user_id);
CREATE INDEX idx_logs_details ON activity_logs USING GIN (details);

ALTER TABLE activity_logs ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON activity_logs FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON activity_logs TO authenticated, service_role;

CREATE POLICY log_select_own ON activity_logs
  FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY log_insert_own ON activity_logs
  FOR INSERT TO authenticated
  WITH CHECK ((select auth.uid()) = user_id);
