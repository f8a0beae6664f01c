-- Functions and procedures (not aggregates, not extension members, not the constructors a
-- range type makes for itself): pg_get_functiondef gives
-- signature, language, volatility, security, configuration such as search_path, and body.
-- The server renders the body relative to the session's search_path (the home schema); only
-- the header always carries the schema, so for a routine of the home schema the header is
-- built from its name, and the rest of the text is the server's, untouched.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
       n.nspname::text AS schema,
       p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
       array_remove(ARRAY[ rtrim(CASE WHEN n.nspname = current_schema() AND starts_with(f.def, f.head || f.qualified)
                                      THEN f.head || quote_ident(p.proname) || substr(f.def, length(f.head || f.qualified) + 1)
                                      ELSE f.def END, E'\n'),
           'comment ' || quote_literal(ds.description),
           'owner ' || quote_ident(pg_get_userbyid(p.proowner))], NULL) AS fields
  FROM pg_proc p
  JOIN ns n ON n.oid = p.pronamespace
 CROSS JOIN LATERAL (
       SELECT pg_get_functiondef(p.oid) AS def,
              'CREATE OR REPLACE ' || CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END || ' ' AS head,
              quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS qualified) f
  LEFT JOIN pg_description ds ON ds.objoid = p.oid AND ds.classoid = 'pg_proc'::regclass AND ds.objsubid = 0
 WHERE p.prokind IN ('f', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
