-- Real-time subscriptions (the document's list): changes of ai_clones, ai_tasks, payments and
-- activity_logs are published through supabase_realtime, the publication Supabase Realtime
-- reads. Supabase creates that publication itself; where it is missing (plain Postgres) this
-- creates it, marked by its comment, so the membership is the same everywhere and a table
-- dropped from it shows as drift. Tables already members stay as they are.

DO $realtime$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        -- Without wal_level = logical Postgres warns that nothing can be replicated yet; that
        -- is expected off Supabase and not worth a warning on every install.
        PERFORM set_config('client_min_messages', 'error', true);
        CREATE PUBLICATION supabase_realtime;
        PERFORM set_config('client_min_messages', 'notice', true);
        COMMENT ON PUBLICATION supabase_realtime IS 'migrate: created by aethercrown98 0007';
    END IF;
    FOREACH t IN ARRAY ARRAY['ai_clones', 'ai_tasks', 'payments', 'activity_logs'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                        WHERE p.pubname = 'supabase_realtime' AND r.prrelid = t::regclass) THEN
            EXECUTE format('ALTER PUBLICATION supabase_realtime ADD TABLE %I.%I', current_schema(), t);
        END IF;
    END LOOP;
END
$realtime$;
