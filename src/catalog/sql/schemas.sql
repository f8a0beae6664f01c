-- Schemas (namespaces), without system schemas, temp schemas, migrate's own history schema
-- and schemas owned by extensions, with comment and owner; grants are in grants.sql.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'schema' AS kind, n.nspname::text AS schema, n.nspname::text AS name,
       array_remove(ARRAY[
           'comment ' || quote_literal(ds.description),
           'owner ' || quote_ident(pg_get_userbyid(s.nspowner))], NULL) AS fields
  FROM ns n
  JOIN pg_namespace s ON s.oid = n.oid
  LEFT JOIN pg_description ds ON ds.objoid = n.oid AND ds.classoid = 'pg_namespace'::regclass AND ds.objsubid = 0
