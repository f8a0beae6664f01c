-- Keeps activity_logs partitioned ahead of the calendar. 0006 made partitions for three
-- months only; from the fourth month every row would land in the default partition.
-- Where pg_cron is installed (on Supabase: enable it under Database -> Extensions first),
-- ensure_activity_logs_partitions(2) runs every day at 01:00 (cron.timezone, UTC by
-- default); it is idempotent, so a missed day costs nothing. Without pg_cron this changes
-- nothing and says so: run `migrate maintain --set aethercrown98` daily from any scheduler.
-- The job name carries the schema, so the set installed in two schemas gets two jobs.

DO $cron$
DECLARE
    command text := format('SELECT %I.ensure_activity_logs_partitions(2)', current_schema());
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron is not installed: activity_logs partitions are not scheduled; run `migrate maintain --set aethercrown98` (or %) daily from another scheduler', command;
        RETURN;
    END IF;
    PERFORM cron.schedule(job_name => 'aethercrown98_partitions_' || current_schema(),
                          schedule => '0 1 * * *', command => command);
END
$cron$;
