-- public.reporting_freshness() as 20261203000200 wrote it, with the cron schema put into its
-- dynamic query through format(): `supabase db lint --fail-on error` (make test) checks a
-- constant EXECUTE string against the database, and a database without pg_cron (every test
-- database) has no cron.job, which it reported as an error. Same signature: grants stay.

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
    -- Dynamic: the cron schema exists only where pg_cron is installed in this database. The
    -- schema goes in through format(), so plpgsql_check (`supabase db lint`) does not check
    -- the query against a database without pg_cron and call the missing table an error.
    execute format($q$
      with job as (
        select j.jobid from %1$I.job j
        where j.jobname = 'coachdesk-refresh-reporting' and j.active
      ), runs as (
        select d.status, d.start_time from %1$I.job_run_details d
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
    $q$, 'cron') into scheduled, last_run_at, last_run_succeeded, failed_runs;
  end if;
  return next;
end
$$;
