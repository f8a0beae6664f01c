-- Indexes not owned by a constraint (those come with the constraint) and not a partition's
-- copy of a partitioned index, as pg_get_indexdef writes them, with validity.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'index' AS kind, n.nspname::text AS schema, i.relname::text AS name,
       array_remove(ARRAY[ pg_get_indexdef(i.oid), CASE WHEN NOT x.indisvalid THEN 'invalid' END], NULL) AS fields
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN ns n ON n.oid = i.relnamespace
 WHERE NOT i.relispartition
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid AND k.contype IN ('p', 'u', 'x'))
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = x.indrelid AND d.deptype = 'e')
