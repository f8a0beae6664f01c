-- Removes the two jobs 0008 scheduled, where pg_cron is installed. Jobs are removed by id,
-- with cron.unschedule(bigint), which every pg_cron version has (1.4 names the other form
-- unschedule(name), later ones unschedule(text)); a job still there afterwards is an error,
-- never a silent success.
DO $cron$
DECLARE
    names text[] := ARRAY['witchcraft_daily_maintenance_' || current_schema(),
                          'witchcraft_monthly_maintenance_' || current_schema()];
    left_over text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = ANY (names);
    SELECT string_agg(jobname, ', ') INTO left_over FROM cron.job WHERE jobname = ANY (names);
    IF left_over IS NOT NULL THEN
        RAISE EXCEPTION 'pg_cron still holds the job(s) %; remove them with cron.unschedule(jobid) and roll back again', left_over;
    END IF;
END
$cron$;
