-- Sequences that are not an identity column's (those belong to the column), with their
-- parameters and owning column.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'sequence' AS kind, n.nspname::text AS schema, c.relname::text AS name,
       array_remove(ARRAY[
           'as ' || format_type(s.seqtypid, NULL),
           'start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin
               || ' max ' || s.seqmax || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END,
           (SELECT 'owned by ' || d.refobjid::regclass::text || '.' || quote_ident(a.attname)
              FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
               AND d.refclassid = 'pg_class'::regclass),
           'owner ' || quote_ident(pg_get_userbyid(c.relowner))], NULL) AS fields
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN ns n ON n.oid = c.relnamespace
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('i', 'e'))
