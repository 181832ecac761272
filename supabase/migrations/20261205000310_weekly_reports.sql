-- The weekly report: every Monday, one request per org (with members) for last week's zip of
-- CSVs (attempts, assignments, leaderboard of Monday..Sunday, UTC days), queued in
-- export_requests as kind 'weekly'. The export job (server/exports/job.py) writes it into the
-- exports bucket and raises export.ready, as it does for any export. Only the schedule and the
-- job make these requests: no member may insert one (the insert policy names the other kinds).
--
-- pg_cron cannot write Storage objects (Storage owns the bytes), so the schedule only queues;
-- the worker beside the stack (or beside hosted Supabase) polls the queue every few seconds.
-- pg_cron runs no job it missed (a laptop asleep on Monday morning): the job's hourly
-- maintenance asks for the same week again, which is a no-op once the request exists.

alter table public.export_requests
  drop constraint export_requests_kind_check,
  add constraint export_requests_kind_check
    check (kind in ('attempts', 'leaderboard', 'assignments', 'weekly'));

-- One weekly report per org and week, whoever asks first (the schedule or the maintenance).
create unique index export_requests_one_weekly_idx on public.export_requests (org_id, from_date)
  where kind = 'weekly';

-- Requests last week's report (the ISO week, Monday to Sunday, before `today`'s) for every org
-- with members (or those in `only_orgs`) that has none yet; returns how many were queued.
create or replace function private.request_weekly_reports(
  today date default (now() at time zone 'UTC')::date, only_orgs uuid[] default null)
returns int
language sql volatile
set search_path = ''
as $$
  with week as (
    select (date_trunc('week', today::timestamp)::date - 7) as monday
  ), queued as (
    insert into public.export_requests (org_id, kind, from_date, to_date, requested_by)
    select o.id, 'weekly', w.monday, w.monday + 6, null
    from public.orgs o, week w
    where exists (select 1 from public.org_members m where m.org_id = o.id)
      and (only_orgs is null or o.id = any (only_orgs))
    on conflict (org_id, from_date) where kind = 'weekly' do nothing
    returning 1
  )
  select count(*)::int from queued
$$;
comment on function private.request_weekly_reports(date, uuid[]) is
  'Queues last week''s zip report for every org with members that has none (pg_cron, Mondays; the export job''s maintenance).';

revoke execute on function private.request_weekly_reports(date, uuid[]) from public, anon, authenticated;
grant execute on function private.request_weekly_reports(date, uuid[]) to service_role;

-- Mondays at 02:10 UTC, where this database's other jobs are scheduled (pg_cron serving it,
-- as for the history purge).
do $$
begin
  if to_regclass('cron.job') is null then
    return;
  end if;
  if exists (select 1 from cron.job where jobname = 'coachdesk-refresh-reporting') then
    perform cron.schedule('coachdesk-weekly-reports', '10 2 * * 1',
                          'select private.request_weekly_reports()');
  end if;
end
$$;
