-- Installed extensions and the schema they live in (versions differ between servers and are
-- not part of the schema).
SELECT 'extension' AS kind, n.nspname::text AS schema, e.extname::text AS name,
       'in schema ' || n.nspname AS body
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname <> 'plpgsql'
