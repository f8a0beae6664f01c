-- Real-time subscriptions (the document's list): changes of ai_clones, ai_tasks, payments and
-- activity_logs are published through supabase_realtime, the publication Supabase Realtime
-- reads. Supabase creates that publication itself; where it is missing (plain Postgres) this
-- creates it, marked by its comment, so the membership is the same everywhere and a table
-- dropped from it shows as drift. Tables already members stay as they are.
--
-- activity_logs is partitioned by month (0006). A publication sends a partition's changes
-- under the partition's name (activity_logs_2026_11, ...) unless it publishes through the
-- partition root; subscribers would then have to follow names that change every month. So
-- supabase_realtime publishes through the root: subscribers see activity_logs. The option
-- is publication-wide (on Supabase the publication is shared, and every partitioned table in
-- it is then published through its root, which is what a subscriber of such a table wants),
-- so it is set only where it is off, and the comment records that this migration set it:
-- the down restores it exactly then, and leaves it alone otherwise.

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
    IF NOT (SELECT pubviaroot FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        ALTER PUBLICATION supabase_realtime SET (publish_via_partition_root = true);
        EXECUTE format('COMMENT ON PUBLICATION supabase_realtime IS %L', concat_ws('; ',
            obj_description((SELECT oid FROM pg_publication WHERE pubname = 'supabase_realtime'), 'pg_publication'),
            'migrate: publish_via_partition_root set by aethercrown98 0007'));
    END IF;
    FOREACH t IN ARRAY ARRAY['ai_clones', 'ai_tasks', 'payments', 'activity_logs'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                        WHERE p.pubname = 'supabase_realtime' AND r.prrelid = t::regclass) THEN
            EXECUTE format('ALTER PUBLICATION supabase_realtime ADD TABLE %I.%I', current_schema(), t);
        END IF;
    END LOOP;
END
$realtime$;
