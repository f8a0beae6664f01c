-- Tables that are members of a publication (Supabase realtime is the publication
-- supabase_realtime).
SELECT 'publication member' AS kind, n.nspname::text AS schema,
       p.pubname || ':' || c.relname AS name,
       'publication ' || quote_ident(p.pubname) AS body
  FROM pg_publication_rel r
  JOIN pg_publication p ON p.oid = r.prpubid
  JOIN pg_class c ON c.oid = r.prrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
