-- Privileges granted on tables, views, sequences, columns and functions, one line per
-- grantee, leaving out the owner's own (owners differ between servers). A function without
-- an ACL has the default: EXECUTE for PUBLIC.
-- (prefixed with namespaces.sql: the CTE ns)
,
acl AS (
    SELECT 'grants on schema' AS kind, n.nspname::text AS schema, n.nspname::text AS name,
           s.nspowner AS owner, coalesce(s.nspacl, acldefault('n', s.nspowner)) AS acl
      FROM ns n JOIN pg_namespace s ON s.oid = n.oid
    UNION ALL
    SELECT 'grants on table', n.nspname::text, c.relname::text, c.relowner, c.relacl
      FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND (d.deptype = 'e' OR (d.deptype = 'i' AND c.relkind = 'S')))
    UNION ALL
    SELECT 'grants on column', n.nspname::text, c.relname || '.' || a.attname, c.relowner, a.attacl
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
    UNION ALL
    SELECT 'grants on function', n.nspname::text,
           p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.proowner,
           coalesce(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
     WHERE p.prokind IN ('f', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
)
SELECT a.kind, a.schema, a.name,
       array_agg(g.grantee_name || ' ' || g.privileges ORDER BY g.grantee_name) AS fields
  FROM acl a
 CROSS JOIN LATERAL (
       SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS grantee_name,
              string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END, ', '
                         ORDER BY x.privilege_type) AS privileges
         FROM aclexplode(a.acl) x
        WHERE x.grantee <> a.owner
        GROUP BY x.grantee) g
 GROUP BY a.kind, a.schema, a.name
