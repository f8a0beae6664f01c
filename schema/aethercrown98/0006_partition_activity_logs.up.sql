-- activity_logs becomes partitioned by month on created_at (the document's scaling section),
-- with a partition for the current month and the next two (UTC months) plus a default
-- partition that catches anything outside them.
--
-- Primary key: Postgres requires the primary key of a partitioned table to include the
-- partition key, so it becomes (id, created_at), and created_at becomes NOT NULL (a key
-- column cannot be null; its default NOW() already fills it). id stays a random UUID.
--
-- Existing rows are copied into the new table; rows of earlier months stay in the default
-- partition. ensure_activity_logs_partitions() creates upcoming months (idempotent); run it
-- monthly from a scheduler. Partitions get RLS enabled and no grants, so the API roles reach
-- log rows only through activity_logs and its policies.
--
-- The table is locked first: a row committed by another session between the copy and the
-- swap would otherwise be lost with the old table.
LOCK TABLE activity_logs IN ACCESS EXCLUSIVE MODE;

CREATE TABLE activity_logs_partitioned (
  id UUID NOT NULL DEFAULT gen_random_uuid(),
  log_type VARCHAR(50) NOT NULL,
  entity_id UUID NOT NULL,
  action VARCHAR(255) NOT NULL,
  details JSONB DEFAULT '{}',
  level VARCHAR(50) DEFAULT 'info',
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
  user_id UUID
) PARTITION BY RANGE (created_at);

CREATE TABLE activity_logs_default PARTITION OF activity_logs_partitioned DEFAULT;
ALTER TABLE activity_logs_default ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON activity_logs_partitioned, activity_logs_default
  FROM PUBLIC, anon, authenticated, service_role;

INSERT INTO activity_logs_partitioned SELECT * FROM activity_logs;
DROP TABLE activity_logs;
ALTER TABLE activity_logs_partitioned RENAME TO activity_logs;

ALTER TABLE activity_logs ADD CONSTRAINT activity_logs_pkey PRIMARY KEY (id, created_at);
ALTER TABLE activity_logs ADD CONSTRAINT activity_logs_user_id_fkey
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL;

CREATE INDEX idx_logs_type ON activity_logs(log_type);
CREATE INDEX idx_logs_entity_id ON activity_logs(entity_id);
CREATE INDEX idx_logs_level ON activity_logs(level);
CREATE INDEX idx_logs_created_at ON activity_logs(created_at DESC);
CREATE INDEX idx_logs_user_id ON activity_logs(user_id);
CREATE INDEX idx_logs_details ON activity_logs USING GIN (details);

ALTER TABLE activity_logs ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON activity_logs TO authenticated, service_role;

CREATE POLICY log_select_own ON activity_logs
  FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY log_insert_own ON activity_logs
  FOR INSERT TO authenticated
  WITH CHECK ((select auth.uid()) = user_id);

-- Creates the monthly partitions activity_logs_YYYY_MM for the current UTC month and the
-- next `months_ahead` months, where missing. Rows of such a month that landed in the default
-- partition before its partition existed move into it. Returns how many partitions it made.
CREATE FUNCTION ensure_activity_logs_partitions(months_ahead integer DEFAULT 2)
RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
  month date;
  part text;
  lo timestamptz;
  hi timestamptz;
  made integer := 0;
BEGIN
  IF months_ahead < 0 THEN
    RAISE EXCEPTION 'months_ahead must be 0 or more, not %', months_ahead;
  END IF;
  FOR i IN 0..months_ahead LOOP
    month := (first_month + make_interval(months => i))::date;
    part := 'activity_logs_' || to_char(month, 'YYYY_MM');
    CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
    lo := month::timestamp AT TIME ZONE 'UTC';
    hi := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    EXECUTE format('CREATE TABLE %I (LIKE activity_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
      'WITH moved AS (DELETE FROM activity_logs_default WHERE created_at >= %L AND created_at < %L RETURNING *)
       INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE activity_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
    -- no role but the owner reaches a partition directly, whatever the platform's defaults
    EXECUTE format('REVOKE ALL ON TABLE %I FROM PUBLIC, anon, authenticated, service_role', part);
    made := made + 1;
  END LOOP;
  RETURN made;
END;
$$;
REVOKE ALL ON FUNCTION ensure_activity_logs_partitions(integer)
  FROM PUBLIC, anon, authenticated, service_role;

SELECT ensure_activity_logs_partitions(2);
