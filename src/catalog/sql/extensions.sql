-- Installed extensions, their version and the schema they live in.
SELECT 'extension' AS kind, n.nspname::text AS schema, e.extname::text AS name,
       ARRAY['in schema ' || n.nspname, 'version ' || e.extversion] AS fields
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname <> 'plpgsql'
