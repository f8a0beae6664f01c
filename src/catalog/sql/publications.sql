-- Publications with their options, and the tables that are members of one, with the
-- member's column list and row filter (Supabase realtime is the publication
-- supabase_realtime). A publication has no schema; it is shown
-- with the schemas of its members.
SELECT 'publication' AS kind, '' AS schema, p.pubname::text AS name,
       array_remove(ARRAY[
           CASE WHEN p.puballtables THEN 'for all tables' END,
           'publish ' || concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                                   CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
           CASE WHEN p.pubviaroot THEN 'publish via partition root' END,
           'comment ' || quote_literal(obj_description(p.oid, 'pg_publication')),
           'owner ' || quote_ident(pg_get_userbyid(p.pubowner))], NULL) AS fields
  FROM pg_publication p
UNION ALL
SELECT 'publication member' AS kind, n.nspname::text AS schema,
       p.pubname || ':' || c.relname AS name,
       array_remove(ARRAY['publication ' || quote_ident(p.pubname),
           (SELECT 'columns (' || string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) || ')'
              FROM pg_attribute a WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs)),
           'where (' || pg_get_expr(r.prqual, r.prrelid) || ')'], NULL) AS fields
  FROM pg_publication_rel r
  JOIN pg_publication p ON p.oid = r.prpubid
  JOIN pg_class c ON c.oid = r.prrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
