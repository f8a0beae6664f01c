-- Views in the given schemas that run with their owner's rights (no security_invoker) and
-- read a table with row level security: the owner usually bypasses it, so every caller sees
-- every row (Supabase's advisor rates this an ERROR, "security definer view"). A view whose
-- comment starts with `definer view:` and says why is a documented exception.
SELECT v.oid::regclass::text || ' reads ' || string_agg(DISTINCT t.oid::regclass::text, ', ') AS object
  FROM pg_class v
  JOIN pg_rewrite r ON r.ev_class = v.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p') AND t.relrowsecurity
 WHERE v.relnamespace::regnamespace::text = ANY ($1)
   AND v.relkind = 'v'
   AND NOT EXISTS (SELECT 1 FROM unnest(v.reloptions) o
                    WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on', 'security_invoker=1',
                                       'security_invoker=yes', 'security_invoker=t', 'security_invoker=y'))
   AND coalesce(obj_description(v.oid, 'pg_class'), '') NOT LIKE 'definer view:%'
 GROUP BY v.oid
 ORDER BY 1
