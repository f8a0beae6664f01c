-- Rules on tables (a view's own _RETURN rule is the view), as pg_get_ruledef writes them
-- relative to the session's search_path, with their enabled state and comment.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'rule' AS kind, n.nspname::text AS schema, c.relname || '.' || r.rulename AS name,
       array_remove(ARRAY[ rtrim(pg_get_ruledef(r.oid, true), ';'),
           CASE r.ev_enabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
                             WHEN 'A' THEN 'enabled always' END,
           'comment ' || quote_literal(obj_description(r.oid, 'pg_rewrite'))], NULL) AS fields
  FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class
  JOIN ns n ON n.oid = c.relnamespace
 WHERE r.rulename <> '_RETURN'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
