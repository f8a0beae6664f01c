-- Takes the four tables out of supabase_realtime, and drops the publication when 0007 created
-- it and nothing else is published through it.
DO $realtime$
DECLARE
    t text;
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
    IF obj_description((SELECT oid FROM pg_publication WHERE pubname = 'supabase_realtime'), 'pg_publication')
           = 'migrate: created by aethercrown98 0007'
       AND NOT EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                        WHERE p.pubname = 'supabase_realtime') THEN
        DROP PUBLICATION supabase_realtime;
    END IF;
END
$realtime$;
