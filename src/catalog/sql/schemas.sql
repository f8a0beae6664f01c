-- Schemas (namespaces), without system schemas, temp schemas, migrate's own history schema
-- and schemas owned by extensions.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'schema' AS kind, n.nspname::text AS schema, n.nspname::text AS name,
       coalesce('comment ' || quote_literal(obj_description(n.oid, 'pg_namespace')), '') AS body
  FROM ns n
