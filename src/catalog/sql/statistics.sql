-- Extended statistics objects, as pg_get_statisticsobjdef writes them (relative to the
-- session's search_path, except the object's own name, which the server always qualifies:
-- for one in the home schema that header is built from its name), with their statistics
-- target, comment and owner.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'statistics' AS kind, n.nspname::text AS schema, s.stxname::text AS name,
       array_remove(ARRAY[
           CASE WHEN n.nspname = current_schema() AND starts_with(h.def, h.head || h.qualified || ' ')
                THEN h.head || quote_ident(s.stxname) || substr(h.def, length(h.head || h.qualified) + 1)
                ELSE h.def END,
           CASE WHEN coalesce(s.stxstattarget::integer, -1) <> -1 THEN 'statistics ' || s.stxstattarget END,
           'comment ' || quote_literal(obj_description(s.oid, 'pg_statistic_ext')),
           'owner ' || quote_ident(pg_get_userbyid(s.stxowner))], NULL) AS fields
  FROM pg_statistic_ext s
  JOIN ns n ON n.oid = s.stxnamespace
 CROSS JOIN LATERAL (
       SELECT pg_get_statisticsobjdef(s.oid) AS def, 'CREATE STATISTICS ' AS head,
              quote_ident(n.nspname) || '.' || quote_ident(s.stxname) AS qualified) h
