-- User triggers (not internal ones, not a partition's copy of its parent's) with their
-- enabled state. Kept in every schema (a trigger on a platform table is the user's).
SELECT 'trigger' AS kind, n.nspname::text AS schema, c.relname || '.' || t.tgname AS name,
       array_remove(ARRAY[ pg_get_triggerdef(t.oid, true),
           CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
                            WHEN 'A' THEN 'enabled always' END,
           'comment ' || quote_literal(ds.description)], NULL) AS fields
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_description ds ON ds.objoid = t.oid AND ds.classoid = 'pg_trigger'::regclass AND ds.objsubid = 0
 WHERE NOT t.tgisinternal AND t.tgparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
