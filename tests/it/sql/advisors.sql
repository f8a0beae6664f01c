-- The WARN and ERROR lints of Supabase's Security and Performance Advisors that can fire on
-- a set's own objects, written from their documented definitions: one row per finding,
-- `lint: object (detail)`. $1 is the schemas the advisors look at (the platform's own, such
-- as auth, extensions and cron, are never linted).
WITH rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY ($1)
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
), pol AS (
    SELECT r.nspname, r.relname, r.relkind, r.relrowsecurity, p.polname, p.polpermissive,
           p.polroles, p.polcmd,
           pg_get_expr(p.polqual, p.polrelid) AS qual,
           pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
      FROM pg_policy p JOIN rel r ON r.oid = p.polrelid
), acts AS (
    SELECT pol.*, a.cmd
      FROM pol, unnest(CASE pol.polcmd WHEN 'r' THEN ARRAY['SELECT'] WHEN 'a' THEN ARRAY['INSERT']
                                        WHEN 'w' THEN ARRAY['UPDATE'] WHEN 'd' THEN ARRAY['DELETE']
                                        ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) a(cmd)
)
-- 0006: two permissive policies for one role and action on a table
SELECT format('multiple_permissive_policies: %I.%I (%s %s: %s)', a.nspname, a.relname, ro.rolname,
              a.cmd, string_agg(a.polname, ', ' ORDER BY a.polname))
  FROM acts a
  JOIN pg_roles ro ON a.polroles @> ARRAY[ro.oid] OR a.polroles = ARRAY[0::oid]
 WHERE a.relkind = 'r' AND a.polpermissive
   AND ro.rolname NOT LIKE 'pg\_%' AND ro.rolname NOT LIKE 'supabase%admin' AND NOT ro.rolbypassrls
 GROUP BY a.nspname, a.relname, ro.rolname, a.cmd
HAVING count(*) > 1
UNION ALL
-- 0011: a function whose search_path the caller chooses
SELECT format('function_search_path_mutable: %s', p.oid::regprocedure)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = ANY ($1)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
   AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c WHERE c LIKE 'search\_path=%')
UNION ALL
-- 0003: a policy that calls an auth function or current_setting() once per row
SELECT format('auth_rls_initplan: %I.%I (%s)', nspname, relname, polname)
  FROM pol
 WHERE relrowsecurity
   AND EXISTS (SELECT 1 FROM unnest(ARRAY['auth.uid()', 'auth.jwt()', 'auth.role()', 'auth.email()', 'current_setting(']) f,
                             unnest(ARRAY[qual, with_check]) e
                WHERE e LIKE '%' || f || '%' AND lower(e) NOT LIKE '%select ' || f || '%')
UNION ALL
-- 0007: policies on a table whose row level security is off
SELECT format('policy_exists_rls_disabled: %I.%I', nspname, relname)
  FROM pol WHERE NOT relrowsecurity GROUP BY nspname, relname
UNION ALL
-- 0013: a table of an exposed schema without row level security
SELECT format('rls_disabled_in_public: %I.%I', nspname, relname)
  FROM rel WHERE relkind IN ('r', 'p') AND NOT relrowsecurity
UNION ALL
-- 0010: a view that runs with its owner's rights
SELECT format('security_definer_view: %I.%I', r.nspname, r.relname)
  FROM rel r JOIN pg_class c ON c.oid = r.oid
 WHERE r.relkind = 'v'
   AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'] OR c.reloptions @> ARRAY['security_invoker=on'], false)
UNION ALL
-- 0009: two indexes of a table with one definition
SELECT format('duplicate_index: %I.%I (%s)', r.nspname, r.relname, string_agg(i.indexrelid::regclass::text, ', ' ORDER BY i.indexrelid::regclass::text))
  FROM pg_index i JOIN rel r ON r.oid = i.indrelid
 GROUP BY r.nspname, r.relname, i.indkey::text, i.indclass::text, i.indcollation::text,
          coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '')
HAVING count(*) > 1
UNION ALL
-- 0024: a write policy that lets anyone through
SELECT format('rls_policy_always_true: %I.%I (%s)', nspname, relname, polname)
  FROM pol
 WHERE polcmd <> 'r' AND (qual = 'true' OR with_check = 'true')
UNION ALL
-- 0016: a materialized view the API roles can read
SELECT format('materialized_view_in_api: %I.%I', nspname, relname)
  FROM rel r
 WHERE r.relkind = 'm'
   AND (has_table_privilege('anon', r.oid, 'SELECT') OR has_table_privilege('authenticated', r.oid, 'SELECT'))
ORDER BY 1
