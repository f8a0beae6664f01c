-- Fills a migrated database with generated rows, for `migrate lint`'s README report: a
-- million rows in the named tables, each NOT NULL column without a default given a value made from
-- the row number in its type (the first value a column's CHECK ... IN list allows). Foreign keys and triggers are off while it runs (it needs a
-- superuser): the rows are for the tables' sizes, not for their meaning.
--   psql "$URL" -v tables='activity_logs ai_tasks' -v rows=1000000 -f benches/data/lint_fill.sql
SET session_replication_role = replica;
CREATE FUNCTION pg_temp.fill(rel regclass, n bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  names text[] := '{}';
  vals text[] := '{}';
  c record;
  v text;
BEGIN
  FOR c IN
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS ty, t.typtype, a.atttypid,
           (SELECT substring(pg_get_constraintdef(k.oid) FROM '''([^'']*)''')
              FROM pg_constraint k
             WHERE k.conrelid = rel AND k.contype = 'c' AND k.conkey = ARRAY[a.attnum]
               AND pg_get_constraintdef(k.oid) LIKE '%ANY (ARRAY[''%'
             LIMIT 1) AS allowed
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
     ORDER BY a.attnum
  LOOP
    v := CASE
      WHEN c.allowed IS NOT NULL THEN quote_literal(c.allowed)
      WHEN c.typtype = 'e' THEN format('(SELECT enumlabel FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder LIMIT 1)', c.atttypid)
      WHEN c.ty LIKE '%[]' THEN '''{}'''
      WHEN c.ty = 'smallint' THEN 'g % 32000'
      WHEN c.ty IN ('integer', 'bigint', 'real', 'double precision') OR c.ty LIKE 'numeric%' THEN 'g'
      WHEN (c.ty = 'text' OR c.ty LIKE 'character%') AND c.attname LIKE '%email%' THEN '''r'' || g || ''@example.com'''
      WHEN c.ty = 'text' OR c.ty LIKE 'character%' THEN '''r'' || g'
      WHEN c.ty = 'uuid' THEN 'md5(g::text)::uuid'
      WHEN c.ty = 'boolean' THEN 'g % 2 = 0'
      WHEN c.ty LIKE 'timestamp%' OR c.ty = 'date' THEN 'now()'
      WHEN c.ty IN ('json', 'jsonb') THEN '''{}'''
      WHEN c.ty = 'inet' THEN '''127.0.0.1'''
      ELSE 'NULL'
    END;
    names := names || quote_ident(c.attname);
    vals := vals || format('(%s)::%s', v, c.ty);
  END LOOP;
  EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM generate_series(1, %s) g',
                 rel, array_to_string(names, ', '), array_to_string(vals, ', '), n);
END $$;
SELECT pg_temp.fill(t::regclass, :rows) FROM unnest(string_to_array(:'tables', ' ')) t;
ANALYZE;
