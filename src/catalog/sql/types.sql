-- User-defined types: enums (labels in their order), domains (base type, collation,
-- default, NOT NULL, constraints), composite types (attributes in order) and range types
-- (subtype, collation, operator class, canonical and subtype-difference functions). Array
-- types, table row types, multiranges and extension members are left out: they come with
-- the object that makes them.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite type'
                      ELSE 'range type' END AS kind,
       n.nspname::text AS schema, t.typname::text AS name,
       array_remove(
           CASE t.typtype
               WHEN 'e' THEN ARRAY['labels ' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                                   FROM pg_enum e WHERE e.enumtypid = t.oid)]
               WHEN 'd' THEN ARRAY[
                   'as ' || format_type(t.typbasetype, t.typtypmod),
                   CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
                        THEN 'collate ' || t.typcollation::regcollation::text END,
                   CASE WHEN t.typdefaultbin IS NOT NULL THEN 'default ' || pg_get_expr(t.typdefaultbin, 0) END,
                   CASE WHEN t.typnotnull THEN 'not null' END]
                   || coalesce((SELECT array_agg('constraint ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid, true)
                                                 ORDER BY k.conname)
                                  FROM pg_constraint k WHERE k.contypid = t.oid), '{}')
               WHEN 'c' THEN (SELECT array_agg('attribute ' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                               || CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation
                                                       THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
                                               ORDER BY a.attnum)
                                FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
                               WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
               ELSE (SELECT ARRAY[
                         'subtype ' || format_type(r.rngsubtype, NULL),
                         CASE WHEN r.rngcollation <> 0 THEN 'collate ' || r.rngcollation::regcollation::text END,
                         CASE WHEN NOT oc.opcdefault THEN 'subtype operator class ' || quote_ident(oc.opcname) END,
                         CASE WHEN r.rngcanonical <> 0 THEN 'canonical ' || r.rngcanonical::regproc::text END,
                         CASE WHEN r.rngsubdiff <> 0 THEN 'subtype diff ' || r.rngsubdiff::regproc::text END]
                       FROM pg_range r JOIN pg_opclass oc ON oc.oid = r.rngsubopc
                      WHERE r.rngtypid = t.oid)
           END
           || ARRAY['comment ' || quote_literal(ds.description),
                    'owner ' || quote_ident(pg_get_userbyid(t.typowner))], NULL) AS fields
  FROM pg_type t
  JOIN ns n ON n.oid = t.typnamespace
  LEFT JOIN pg_description ds ON ds.objoid = t.oid AND ds.classoid = 'pg_type'::regclass AND ds.objsubid = 0
 WHERE (t.typtype IN ('e', 'd', 'r')
        OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
