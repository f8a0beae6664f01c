-- Schemas (namespaces), without system schemas, temp schemas, migrate's own history schema
-- and schemas owned by extensions.
WITH ns AS (
    SELECT n.oid, n.nspname
      FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'migrate')
       AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
)
SELECT 'schema' AS kind, n.nspname::text AS schema, n.nspname::text AS name,
       coalesce('comment ' || quote_literal(obj_description(n.oid, 'pg_namespace')), '') AS body
  FROM ns n
