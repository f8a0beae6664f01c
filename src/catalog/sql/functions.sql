-- Functions and procedures (not aggregates, not extension members, not the constructors a
-- range type makes for itself): pg_get_functiondef gives
-- signature, language, volatility, security, configuration such as search_path, and body.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
       n.nspname::text AS schema,
       p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
       array_remove(ARRAY[ rtrim(pg_get_functiondef(p.oid), E'\n'),
           'comment ' || quote_literal(ds.description)], NULL) AS fields
  FROM pg_proc p
  JOIN ns n ON n.oid = p.pronamespace
  LEFT JOIN pg_description ds ON ds.objoid = p.oid AND ds.classoid = 'pg_proc'::regclass AND ds.objsubid = 0
 WHERE p.prokind IN ('f', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
