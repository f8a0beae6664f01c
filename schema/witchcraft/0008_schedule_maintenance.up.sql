-- Schedules the maintenance jobs with pg_cron where it is installed (Supabase: enable the
-- pg_cron extension in the dashboard first): daily_maintenance() every day at 02:00 and
-- monthly_maintenance() at 00:00 on the 1st (times in the cron.timezone, UTC by default).
-- Where pg_cron is not installed this changes nothing and says so in a NOTICE; schedule the
-- two calls another way then (README: "Scheduling Witchcraft maintenance").
-- Job names carry the schema, so the same set installed in two schemas gets two pairs of jobs.

DO $cron$
DECLARE
    daily text := format('SELECT %I.daily_maintenance()', current_schema());
    monthly text := format('SELECT %I.monthly_maintenance()', current_schema());
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron is not installed: witchcraft maintenance is not scheduled; run `migrate maintain --set witchcraft` daily at 02:00 and `migrate maintain --set witchcraft --monthly` on the 1st at 00:00 (or % and %) from another scheduler', daily, monthly;
        RETURN;
    END IF;
    -- named arguments: pg_cron 1.4 to 1.6 name the job parameter's type differently
    PERFORM cron.schedule(job_name => 'witchcraft_daily_maintenance_' || current_schema(),
                          schedule => '0 2 * * *', command => daily);
    PERFORM cron.schedule(job_name => 'witchcraft_monthly_maintenance_' || current_schema(),
                          schedule => '0 0 1 * *', command => monthly);
END
$cron$;
