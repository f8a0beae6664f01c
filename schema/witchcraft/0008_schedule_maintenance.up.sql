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
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        RAISE NOTICE 'pg_cron is not installed: witchcraft maintenance is not scheduled; run % daily at 02:00 and % monthly on the 1st at 00:00 from another scheduler', daily, monthly;
        RETURN;
    END IF;
    PERFORM cron.schedule('witchcraft_daily_maintenance_' || current_schema(), '0 2 * * *', daily);
    PERFORM cron.schedule('witchcraft_monthly_maintenance_' || current_schema(), '0 0 1 * *', monthly);
END
$cron$;
