-- Installed extensions, their version and the schema they live in.
SELECT 'extension' AS kind, n.nspname::text AS schema, e.extname::text AS name,
       'in schema ' || n.nspname || E'\nversion ' || e.extversion AS body
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname <> 'plpgsql'
