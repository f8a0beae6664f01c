-- Indexes not owned by a constraint (those come with the constraint) and not a partition's
-- copy of a partitioned index, as pg_get_indexdef writes them, with validity. The server
-- renders expressions and predicates relative to the session's search_path (the home
-- schema) but always qualifies the indexed table in the header: for a table of the home
-- schema that header is built from the table's name, and the rest of the text is the
-- server's, untouched.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'index' AS kind, n.nspname::text AS schema, i.relname::text AS name,
       array_remove(ARRAY[
           CASE WHEN tn.nspname IS DISTINCT FROM current_schema() THEN h.def
                WHEN starts_with(h.def, h.head || 'ONLY ' || h.qualified || ' ')
                THEN h.head || 'ONLY ' || quote_ident(t.relname) || substr(h.def, length(h.head || 'ONLY ' || h.qualified) + 1)
                WHEN starts_with(h.def, h.head || h.qualified || ' ')
                THEN h.head || quote_ident(t.relname) || substr(h.def, length(h.head || h.qualified) + 1)
                ELSE h.def END,
           CASE WHEN NOT x.indisvalid THEN 'invalid' END,
           'comment ' || quote_literal(obj_description(i.oid, 'pg_class'))], NULL) AS fields
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN ns n ON n.oid = i.relnamespace
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace
 CROSS JOIN LATERAL (
       SELECT pg_get_indexdef(i.oid) AS def,
              'CREATE ' || CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(i.relname) || ' ON ' AS head,
              quote_ident(tn.nspname) || '.' || quote_ident(t.relname) AS qualified) h
 WHERE NOT i.relispartition
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid AND k.contype IN ('p', 'u', 'x'))
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = x.indrelid AND d.deptype = 'e')
