-- Table constraints (primary key, unique, foreign key, check, exclusion) as
-- pg_get_constraintdef writes them. Copies a partition inherits from its parent are left out.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'constraint' AS kind, n.nspname::text AS schema, c.relname || '.' || k.conname AS name,
       array_remove(ARRAY[pg_get_constraintdef(k.oid, true),
           'comment ' || quote_literal(ds.description)], NULL) AS fields
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN ns n ON n.oid = c.relnamespace
  LEFT JOIN pg_description ds ON ds.objoid = k.oid AND ds.classoid = 'pg_constraint'::regclass AND ds.objsubid = 0
 WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0 AND k.conislocal
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
