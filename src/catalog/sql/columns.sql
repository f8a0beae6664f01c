-- Columns of tables and partitioned tables (partitions repeat their parent's and are left
-- out): type via format_type, nullability, default, identity (with its sequence's name and
-- parameters), generation, storage (with the
-- type's, which undoing it needs), compression, statistics target, attribute options,
-- collation, comment.
-- (prefixed with namespaces.sql: the CTE ns)
SELECT 'column' AS kind, n.nspname::text AS schema, c.relname || '.' || a.attname AS name,
       array_remove(ARRAY[
           format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attnotnull THEN 'not null' END,
           CASE WHEN a.attgenerated = 's' THEN 'generated always as (' || pg_get_expr(ad.adbin, ad.adrelid) || ') stored'
                WHEN ad.adbin IS NOT NULL THEN 'default ' || pg_get_expr(ad.adbin, ad.adrelid) END,
           CASE a.attidentity WHEN 'a' THEN 'identity always' WHEN 'd' THEN 'identity by default' END,
           (SELECT 'identity sequence ' || s.seqrelid::regclass::text || ' start ' || s.seqstart
                   || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax
                   || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
              FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid
             WHERE a.attidentity <> '' AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'),
           CASE WHEN NOT a.attislocal THEN 'inherited' END,
           CASE WHEN a.attstorage <> t.typstorage THEN 'storage ' || CASE a.attstorage WHEN 'p' THEN 'plain'
                WHEN 'e' THEN 'external' WHEN 'm' THEN 'main' ELSE 'extended' END
                || ' (type ' || CASE t.typstorage WHEN 'p' THEN 'plain'
                WHEN 'e' THEN 'external' WHEN 'm' THEN 'main' ELSE 'extended' END || ')' END,
           CASE a.attcompression WHEN 'p' THEN 'compression pglz' WHEN 'l' THEN 'compression lz4' END,
           CASE WHEN coalesce(a.attstattarget::integer, -1) <> -1 THEN 'statistics ' || a.attstattarget END,
           'options (' || (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(a.attoptions) o) || ')',
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                THEN 'collate ' || a.attcollation::regcollation::text END,
           'comment ' || quote_literal(ds.description)], NULL) AS fields
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN ns n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND a.attnum > 0 AND NOT a.attisdropped
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
