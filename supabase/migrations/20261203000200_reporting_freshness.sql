-- Reporting freshness: how current the leaderboard and charts are, for the desktop's About box
-- (and for hosted Supabase, where a client cannot read pg_cron's tables), and a refresh every
-- minute instead of every five.
--
-- Why every minute: a rep who just finished a call opens the leaderboard expecting to see it.
-- A run that finds nothing new compares the small dimension tables, reads an empty transaction
-- id window and refreshes no view (refresh_reporting skips them), so it costs a few
-- milliseconds; pg_cron 1.4 (Debian's, used by `make run`) cannot schedule below a minute.

-- Reschedule where the reporting migration scheduled it (same conditions: pg_cron serving this
-- database); cron.schedule with an existing job name replaces that job's schedule.
do $$
begin
  if to_regclass('cron.job') is null then
    return;
  end if;
  if exists (select 1 from cron.job where jobname = 'coachdesk-refresh-reporting') then
    perform cron.schedule('coachdesk-refresh-reporting', '* * * * *',
                          'select public.refresh_reporting()');
  end if;
end
$$;

-- One row for the caller's org: when reporting was last refreshed and whether the scheduled
-- refresh runs. Any member may ask (it says nothing about any org's data). SECURITY DEFINER
-- because the caller can read neither private.reporting_state nor the cron schema.
--   refreshed_at        the last successful refresh (scheduled or not); null: never
--   scheduled           a pg_cron job refreshes reporting here (false: an outside job runner
--                       must, e.g. on plain Postgres)
--   last_run_at         when that job last started (within a day); null: not yet
--   last_run_succeeded  whether that run succeeded (null while it runs or before the first)
--   failed_runs         runs failed in a row up to now (0: the last one succeeded)
-- The runs' error messages are not returned: a message can quote another org's rows, and the
-- job is shared by every org. `coachdesk db status` shows them to whoever runs the server.
create or replace function public.reporting_freshness()
returns table (
  refreshed_at timestamptz,
  scheduled boolean,
  last_run_at timestamptz,
  last_run_succeeded boolean,
  failed_runs int
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('reporting_freshness', 'trainee', 'manager', 'admin', 'hr');
begin
  refreshed_at := (select s.refreshed_at from private.reporting_state s);
  scheduled := false;
  failed_runs := 0;
  if to_regclass('cron.job') is not null and to_regclass('cron.job_run_details') is not null then
    -- Dynamic: the cron schema exists only where pg_cron is installed in this database.
    execute $q$
      with job as (
        select j.jobid from cron.job j
        where j.jobname = 'coachdesk-refresh-reporting' and j.active
      ), runs as (
        select d.status, d.start_time from cron.job_run_details d
        where d.jobid in (select jobid from job)
          -- pg_cron never purges its run log: look at the last day only (a minute's job has
          -- run ~1,440 times in it), so the cost stays flat however long it has run.
          and d.start_time > now() - interval '1 day'
      )
      select exists (select from job),
             (select max(r.start_time) from runs r),
             (select case r.status when 'succeeded' then true when 'failed' then false end
              from runs r order by r.start_time desc nulls last limit 1),
             (select count(*)::int from runs r
              where r.status = 'failed'
                and r.start_time > coalesce((select max(s.start_time) from runs s
                                             where s.status = 'succeeded'), '-infinity'))
    $q$ into scheduled, last_run_at, last_run_succeeded, failed_runs;
  end if;
  return next;
end
$$;
comment on function public.reporting_freshness() is
  'When reporting was last refreshed and whether its scheduled refresh runs (any member).';
revoke execute on function public.reporting_freshness() from public, anon;
grant execute on function public.reporting_freshness() to authenticated;
