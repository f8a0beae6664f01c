-- Foreign keys in the given schemas whose columns do not lead a complete (non-partial) index
-- of their table: deleting or updating a referenced row then scans the whole table.
SELECT k.conrelid::regclass::text || ' ' || k.conname AS object
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
 WHERE k.contype = 'f' AND c.relnamespace::regnamespace::text = ANY ($1)
   AND NOT EXISTS (
       SELECT 1 FROM pg_index i
        WHERE i.indrelid = k.conrelid AND i.indpred IS NULL
          AND (string_to_array(i.indkey::text, ' ')::int2[])[1:array_length(k.conkey, 1)] = k.conkey)
 ORDER BY 1
