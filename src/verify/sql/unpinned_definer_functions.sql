-- SECURITY DEFINER functions in the given schemas that do not fix their search_path: a caller
-- could make them resolve names to objects of the caller's choosing.
SELECT p.oid::regprocedure::text AS object
  FROM pg_proc p
 WHERE p.pronamespace::regnamespace::text = ANY ($1) AND p.prosecdef
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) s WHERE s LIKE 'search\_path=%')
 ORDER BY 1
