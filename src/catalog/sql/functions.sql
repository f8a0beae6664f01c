-- Functions and procedures (not aggregates, not extension members): pg_get_functiondef gives
-- signature, language, volatility, security, configuration such as search_path, and body.
WITH ns AS (
    SELECT n.oid, n.nspname
      FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'migrate')
       AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
)
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
       n.nspname::text AS schema,
       p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
       concat_ws(E'\n', rtrim(pg_get_functiondef(p.oid), E'\n'),
           'comment ' || quote_literal(obj_description(p.oid, 'pg_proc'))) AS body
  FROM pg_proc p
  JOIN ns n ON n.oid = p.pronamespace
 WHERE p.prokind IN ('f', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
