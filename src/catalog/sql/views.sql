-- Views and materialized views with their definition and options (security_invoker,
-- security_barrier, check_option; a materialized view's storage parameters), sorted.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind,
       n.nspname::text AS schema, c.relname::text AS name,
       array_remove(ARRAY[ rtrim(pg_get_viewdef(c.oid, true), E'\n'),
           'with (' || (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(c.reloptions) o) || ')',
           'comment ' || quote_literal(ds.description),
           'owner ' || quote_ident(pg_get_userbyid(c.relowner))], NULL) AS fields
  FROM pg_class c
  JOIN ns n ON n.oid = c.relnamespace
  LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
 WHERE c.relkind IN ('v', 'm')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
