-- Removes the job 0008 scheduled, where pg_cron is installed: by id, with
-- cron.unschedule(bigint), which every pg_cron version has; a job still there afterwards is
-- an error, never a silent success.
DO $cron$
DECLARE
    this_job text := 'aethercrown98_partitions_' || current_schema();
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = this_job;
    IF EXISTS (SELECT 1 FROM cron.job WHERE jobname = this_job) THEN
        RAISE EXCEPTION 'pg_cron still holds the job %; remove it with cron.unschedule(jobid) and roll back again', this_job;
    END IF;
END
$cron$;
