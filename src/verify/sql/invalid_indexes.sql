-- Invalid indexes in the given schemas, typically left by a failed CREATE INDEX CONCURRENTLY:
-- they cost writes and serve no reads.
SELECT i.indexrelid::regclass::text AS object
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace::regnamespace::text = ANY ($1) AND NOT i.indisvalid
 ORDER BY 1
