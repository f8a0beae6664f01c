-- Collations: provider, locale, determinism. The ICU locale column is named differently
-- across server versions, so it is read from the row as JSON.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'collation' AS kind, n.nspname::text AS schema, c.collname::text AS name,
       array_remove(ARRAY[
           'provider ' || CASE c.collprovider WHEN 'i' THEN 'icu' WHEN 'c' THEN 'libc' ELSE 'default' END,
           'locale ' || quote_literal(coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale', c.collcollate)),
           CASE WHEN c.collctype IS DISTINCT FROM c.collcollate AND c.collprovider = 'c'
                THEN 'ctype ' || quote_literal(c.collctype) END,
           CASE WHEN NOT c.collisdeterministic THEN 'nondeterministic' END,
           'comment ' || quote_literal(ds.description),
           'owner ' || quote_ident(pg_get_userbyid(c.collowner))], NULL) AS fields
  FROM pg_collation c
  JOIN ns n ON n.oid = c.collnamespace
  LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_collation'::regclass AND ds.objsubid = 0
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_collation'::regclass AND d.objid = c.oid AND d.deptype = 'e')
