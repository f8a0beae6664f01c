-- Indexes in the given schemas with the same table, columns, operator classes, expressions
-- and predicate as another: all but one are pure write cost.
SELECT string_agg(i.indexrelid::regclass::text, ', ' ORDER BY i.indexrelid::regclass::text) AS object
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace::regnamespace::text = ANY ($1)
 GROUP BY i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text,
          coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
          (SELECT c2.relam FROM pg_class c2 WHERE c2.oid = i.indexrelid)
HAVING count(*) > 1
 ORDER BY 1
