-- Views and materialized views with their definition.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind,
       n.nspname::text AS schema, c.relname::text AS name,
       array_remove(ARRAY[ rtrim(pg_get_viewdef(c.oid, true), E'\n'),
           'comment ' || quote_literal(obj_description(c.oid, 'pg_class'))], NULL) AS fields
  FROM pg_class c
  JOIN ns n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
