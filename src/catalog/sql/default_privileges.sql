-- Default privileges (ALTER DEFAULT PRIVILEGES): for which creating role, in which schema
-- (or all), on which kind of object, one line per grantee.
SELECT 'default privileges' AS kind, coalesce(n.nspname, '')::text AS schema,
       'for ' || quote_ident(pg_get_userbyid(d.defaclrole))
           || coalesce(' in ' || quote_ident(n.nspname), '')
           || ' on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                                            WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types'
                                            ELSE 'schemas' END AS name,
       (SELECT array_agg(g.grantee_name || ' ' || g.privileges ORDER BY g.grantee_name)
          FROM (SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS grantee_name,
                       string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END, ', '
                                  ORDER BY x.privilege_type) AS privileges
                  FROM aclexplode(d.defaclacl) x GROUP BY x.grantee) g) AS fields
  FROM pg_default_acl d
  LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
