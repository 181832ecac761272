-- pg_cron keeps a row in cron.job_run_details for every run of every job and never deletes
-- one. With the reporting refresh every minute and the scoring queue every 10 seconds that is
-- about 10,000 rows a day, forever: on a laptop running `make run` for a year, millions of
-- rows that every reporting_freshness() call scans. Supabase's own advice is a scheduled
-- delete; a week of history is kept, enough for `coachdesk db status` and for
-- reporting_freshness() (which looks at the last day).
--
-- Scheduled where this database's jobs are (the reporting migration's jobs exist only where
-- pg_cron serves this database), so the condition is simply that they exist.
do $$
begin
  if to_regclass('cron.job') is null then
    return;
  end if;
  if exists (select 1 from cron.job where jobname = 'coachdesk-refresh-reporting') then
    perform cron.schedule(
      'coachdesk-purge-cron-history', '17 3 * * *',
      $job$delete from cron.job_run_details where end_time < now() - interval '7 days'$job$);
  end if;
end
$$;
