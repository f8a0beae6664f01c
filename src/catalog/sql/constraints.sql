-- Table constraints (primary key, unique, foreign key, check, exclusion) as
-- pg_get_constraintdef writes them. Copies a partition inherits from its parent are left out.
WITH ns AS (
    SELECT n.oid, n.nspname
      FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'migrate')
       AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
)
SELECT 'constraint' AS kind, n.nspname::text AS schema, c.relname || '.' || k.conname AS name,
       pg_get_constraintdef(k.oid, true) AS body
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN ns n ON n.oid = c.relnamespace
 WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0 AND k.conislocal
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
