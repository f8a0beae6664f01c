-- Tables, partitioned tables and partitions in the given schemas without row level security.
SELECT c.oid::regclass::text AS object
  FROM pg_class c
 WHERE c.relnamespace::regnamespace::text = ANY ($1)
   AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
 ORDER BY 1
