-- Tables, partitioned tables and partitions, with partitioning, bounds, storage parameters
-- (the TOAST table's as `toast.name=value`, as ALTER TABLE sets them), replica identity,
-- the index CLUSTER uses, RLS flags and comment.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'table' AS kind, n.nspname::text AS schema, c.relname::text AS name,
       array_remove(ARRAY[
           CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END,
           CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
           CASE WHEN c.relkind = 'p' THEN 'partition by ' || pg_get_partkeydef(c.oid) END,
           CASE WHEN c.relispartition THEN
               'partition of ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
               || ' ' || pg_get_expr(c.relpartbound, c.oid) END,
           (SELECT 'inherits ' || string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
              FROM pg_inherits i WHERE i.inhrelid = c.oid AND NOT c.relispartition),
           'with (' || array_to_string(c.reloptions || (SELECT array_agg('toast.' || o) FROM unnest(tc.reloptions) o), ', ') || ')',
           CASE c.relreplident WHEN 'n' THEN 'replica identity nothing' WHEN 'f' THEN 'replica identity full'
                WHEN 'i' THEN 'replica identity using index '
                              || (SELECT quote_ident(x.relname) FROM pg_index ix JOIN pg_class x ON x.oid = ix.indexrelid
                                   WHERE ix.indrelid = c.oid AND ix.indisreplident) END,
           (SELECT 'cluster on ' || quote_ident(x.relname) FROM pg_index ix JOIN pg_class x ON x.oid = ix.indexrelid
             WHERE ix.indrelid = c.oid AND ix.indisclustered),
           'row level security ' || CASE WHEN c.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
           CASE WHEN c.relforcerowsecurity THEN 'force row level security' END,
           'comment ' || quote_literal(ds.description),
           'owner ' || quote_ident(pg_get_userbyid(c.relowner))], NULL) AS fields
  FROM pg_class c
  JOIN ns n ON n.oid = c.relnamespace
  LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
  LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
 WHERE c.relkind IN ('r', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
