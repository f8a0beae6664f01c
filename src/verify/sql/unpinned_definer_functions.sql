-- SECURITY DEFINER functions in the given schemas that do not pin a safe search_path: a
-- caller could make them resolve names to objects of the caller's choosing. Safe is either
-- empty ('': every name qualified), or a list whose every schema exists and is the
-- function's own, one of the set's, or pg_catalog, with pg_temp named last (else pg_temp is
-- searched first for tables). A path naming a schema that does not exist (say `@home`)
-- resolves nothing the function expects, and fails.
WITH f AS (
    SELECT p.oid, p.pronamespace::regnamespace::text AS own,
           (SELECT substr(s, length('search_path=') + 1) FROM unnest(p.proconfig) s
             WHERE s LIKE 'search\_path=%' LIMIT 1) AS path
      FROM pg_proc p
     WHERE p.pronamespace::regnamespace::text = ANY ($1) AND p.prosecdef
),
items AS (
    SELECT f.oid, f.own, f.path,
           array(SELECT btrim(btrim(x), '"') FROM unnest(string_to_array(f.path, ',')) WITH ORDINALITY u(x, n)
                  ORDER BY n) AS list
      FROM f
)
SELECT i.oid::regprocedure::text AS object
  FROM items i
 WHERE NOT (
        i.path IS NOT NULL
        AND (i.path IN ('""', '''''')
             OR (i.list[cardinality(i.list)] = 'pg_temp'
                 AND NOT EXISTS (
                     SELECT 1 FROM unnest(i.list[1:cardinality(i.list) - 1]) it
                      WHERE NOT (it = i.own OR it = ANY ($1) OR it = 'pg_catalog')
                         OR to_regnamespace(quote_ident(it)) IS NULL))))
 ORDER BY 1
