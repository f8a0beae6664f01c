-- Schemas (namespaces), without system schemas, temp schemas, migrate's own history schema
-- and schemas owned by extensions. The owner is shown when it is neither the database's
-- owner nor the role reading the catalog (those differ between servers holding the same
-- schema); grants are in grants.sql.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'schema' AS kind, n.nspname::text AS schema, n.nspname::text AS name,
       array_remove(ARRAY[
           CASE WHEN s.nspowner <> (SELECT datdba FROM pg_database WHERE datname = current_database())
                 AND pg_get_userbyid(s.nspowner) <> current_user
                THEN 'owner ' || quote_ident(pg_get_userbyid(s.nspowner)) END,
           'comment ' || quote_literal(ds.description)], NULL) AS fields
  FROM ns n
  JOIN pg_namespace s ON s.oid = n.oid
  LEFT JOIN pg_description ds ON ds.objoid = n.oid AND ds.classoid = 'pg_namespace'::regclass AND ds.objsubid = 0
