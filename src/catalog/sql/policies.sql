-- Row level security policies: command, permissive or restrictive, roles, USING and WITH
-- CHECK expressions. Kept in every schema (a policy on a platform table is the user's).
SELECT 'policy' AS kind, n.nspname::text AS schema, c.relname || '.' || p.polname AS name,
       array_remove(ARRAY[
           'for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                                   WHEN 'd' THEN 'delete' ELSE 'all' END,
           CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,
           'to ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END, ', '
                                       ORDER BY CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END)
                       FROM unnest(p.polroles) AS r),
           'using (' || pg_get_expr(p.polqual, p.polrelid) || ')',
           'with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')',
           'comment ' || quote_literal(ds.description)], NULL) AS fields
  FROM pg_policy p
  JOIN pg_class c ON c.oid = p.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_description ds ON ds.objoid = p.oid AND ds.classoid = 'pg_policy'::regclass AND ds.objsubid = 0
