-- Removes the two jobs 0008 scheduled, where pg_cron is installed.
DO $cron$
DECLARE
    job_name text;
BEGIN
    IF to_regprocedure('cron.unschedule(text)') IS NULL THEN
        RETURN;
    END IF;
    FOREACH job_name IN ARRAY ARRAY['witchcraft_daily_maintenance_' || current_schema(),
                               'witchcraft_monthly_maintenance_' || current_schema()] LOOP
        IF EXISTS (SELECT 1 FROM cron.job WHERE jobname = job_name) THEN
            PERFORM cron.unschedule(job_name);
        END IF;
    END LOOP;
END
$cron$;
