-- Tables, partitioned tables and partitions, with partitioning, bounds, RLS flags and comment.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'table' AS kind, n.nspname::text AS schema, c.relname::text AS name,
       concat_ws(E'\n',
           CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END,
           CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
           CASE WHEN c.relkind = 'p' THEN 'partition by ' || pg_get_partkeydef(c.oid) END,
           CASE WHEN c.relispartition THEN
               'partition of ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
               || ' ' || pg_get_expr(c.relpartbound, c.oid) END,
           'row level security ' || CASE WHEN c.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
           CASE WHEN c.relforcerowsecurity THEN 'force row level security' END,
           'comment ' || quote_literal(obj_description(c.oid, 'pg_class'))) AS body
  FROM pg_class c
  JOIN ns n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
