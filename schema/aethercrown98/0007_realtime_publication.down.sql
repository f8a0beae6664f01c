-- Takes the four tables out of supabase_realtime, turns publish_via_partition_root off again
-- where 0007 turned it on (its comment says so), and drops the publication when 0007 created
-- it and nothing else is published through it.
DO $realtime$
DECLARE
    t text;
    note text;
    marker constant text := 'migrate: publish_via_partition_root set by aethercrown98 0007';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        RETURN;
    END IF;
    FOREACH t IN ARRAY ARRAY['activity_logs', 'payments', 'ai_tasks', 'ai_clones'] LOOP
        IF EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                    WHERE p.pubname = 'supabase_realtime' AND r.prrelid = t::regclass) THEN
            EXECUTE format('ALTER PUBLICATION supabase_realtime DROP TABLE %I.%I', current_schema(), t);
        END IF;
    END LOOP;
    note := obj_description((SELECT oid FROM pg_publication WHERE pubname = 'supabase_realtime'), 'pg_publication');
    IF note LIKE '%' || marker || '%' THEN
        ALTER PUBLICATION supabase_realtime SET (publish_via_partition_root = false);
        note := nullif(trim(BOTH '; ' FROM replace(note, marker, '')), '');
        EXECUTE format('COMMENT ON PUBLICATION supabase_realtime IS %L', note);
    END IF;
    IF note
           = 'migrate: created by aethercrown98 0007'
       AND NOT EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                        WHERE p.pubname = 'supabase_realtime') THEN
        DROP PUBLICATION supabase_realtime;
    END IF;
END
$realtime$;
