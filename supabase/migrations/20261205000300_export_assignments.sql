-- The 'assignments' export: one row per assigned person and assignment, with where that person
-- stands (not started / in progress / passed / failed / overdue), their best score and their
-- attempts, judged as the desktop's Assignments and Reports tabs judge it
-- (app/client/assignments.py). Admins and hr may ask for it; managers keep the attempts and
-- leaderboard exports (a CSV of every person's standing is HR's report, issue 20).

alter table public.export_requests
  drop constraint export_requests_kind_check,
  add constraint export_requests_kind_check
    check (kind in ('attempts', 'leaderboard', 'assignments'));

-- Managers, admins and hr ask for attempts and leaderboard CSVs; only admins and hr for the
-- assignments CSV. The requester is the caller (stamped by the server as well).
drop policy export_requests_insert_reporting on public.export_requests;
create policy export_requests_insert_reporting on public.export_requests for insert
  to authenticated
  with check (org_id = (select private.current_org_id())
              and requested_by = (select auth.uid())
              and ((kind in ('attempts', 'leaderboard')
                    and (select private.has_org_role('manager', 'admin', 'hr')))
                   or (kind = 'assignments' and (select private.has_org_role('admin', 'hr')))));

-- Assignments of an org open during UTC days [from_date, to_date] (made by its end, and due on
-- or after its start or never), one row per assigned person (a team's current members), as
-- they stood at the range's end (or now, when that is still to come):
--   passed       every scenario of it has a scored attempt at or above the assignment's
--                required score (else the scenario's pass score), on any version of it;
--   failed       not passed, and every attempt the cap allows used (the assignment's cap per
--                scenario, else a one-scenario assignment's scenario's cap);
--   overdue      not passed or failed, and past its due date;
--   in progress  not passed, with an attempt; not started: none.
-- Attempts count every attempt that is not 'incomplete' on the assignment's scenarios (any
-- version), under the assignment or not, as the person's own home counts them.
create or replace function private.export_assignments(org uuid, from_date date, to_date date)
returns table (
  assignment_id uuid,
  created_at timestamptz,
  kind text,
  scenario_id uuid,
  track_id uuid,
  title text,
  team_id uuid,
  team_name text,
  user_id uuid,
  display_name text,
  due_at timestamptz,
  required_score numeric,
  status text,
  scenarios_passed int,
  scenarios int,
  best_score numeric,
  attempts int
)
language sql stable
set search_path = ''
as $$
  with bounds as (
    select least(now(), ((to_date + 1)::timestamp at time zone 'UTC')) as at,
           (from_date::timestamp at time zone 'UTC') as since
  ),
  live as (
    select a.* from public.assignments a, bounds b
    where a.org_id = org and a.created_at < b.at and (a.due_at is null or a.due_at >= b.since)
  ),
  people as (
    select l.id as assignment_id, l.user_id from live l where l.user_id is not null
    union
    select l.id, tm.user_id
    from live l join public.team_members tm on tm.org_id = l.org_id and tm.team_id = l.team_id
  ),
  content as (
    select l.id as assignment_id, l.scenario_id from live l where l.scenario_id is not null
    union
    select l.id, ts.scenario_id
    from live l join public.track_scenarios ts on ts.org_id = l.org_id and ts.track_id = l.track_id
  ),
  per_scenario as (
    select p.assignment_id, p.user_id, c.scenario_id,
           coalesce(l.required_score, s.pass_score) as bar,
           count(t.id) as attempts,
           max(t.score) filter (where t.status = 'scored') as best
    from people p
    join live l on l.id = p.assignment_id
    join content c on c.assignment_id = p.assignment_id
    join public.scenarios s on s.id = c.scenario_id
    join public.scenarios v on v.org_id = s.org_id and v.lineage_id = s.lineage_id
    left join public.scenario_attempts t
      on t.org_id = org and t.user_id = p.user_id and t.scenario_id = v.id
         and t.status <> 'incomplete' and t.started_at < (select b.at from bounds b)
    group by p.assignment_id, p.user_id, c.scenario_id, bar
  ),
  per_person as (
    select p.assignment_id, p.user_id,
           count(ps.scenario_id)::int as scenarios,
           (count(*) filter (where ps.best >= ps.bar))::int as scenarios_passed,
           coalesce(sum(ps.attempts), 0)::int as attempts,
           max(ps.best) as best
    from people p
    left join per_scenario ps on ps.assignment_id = p.assignment_id and ps.user_id = p.user_id
    group by p.assignment_id, p.user_id
  )
  select l.id, l.created_at,
         case when l.track_id is null then 'scenario' else 'track' end,
         l.scenario_id, l.track_id, coalesce(s.title, tr.title), l.team_id, tm.name,
         pp.user_id, m.display_name, l.due_at, l.required_score,
         case
           when pp.scenarios > 0 and pp.scenarios_passed >= pp.scenarios then 'passed'
           when pp.attempts >= coalesce(l.max_attempts * greatest(pp.scenarios, 1),
                                        case when pp.scenarios = 1 then s.max_attempts end)
             then 'failed'
           when l.due_at < (select b.at from bounds b) then 'overdue'
           when pp.attempts > 0 then 'in progress'
           else 'not started'
         end,
         pp.scenarios_passed, pp.scenarios, pp.best, pp.attempts
  from per_person pp
  join live l on l.id = pp.assignment_id
  join public.org_members m on m.org_id = l.org_id and m.user_id = pp.user_id
  left join public.scenarios s on s.id = l.scenario_id
  left join public.tracks tr on tr.id = l.track_id
  left join public.teams tm on tm.id = l.team_id
  order by l.created_at, l.id, m.display_name, pp.user_id
$$;
comment on function private.export_assignments(uuid, date, date) is
  'Each assigned person''s standing on each assignment open in a range of UTC days (the export job).';

revoke execute on function private.export_assignments(uuid, date, date)
  from public, anon, authenticated;
grant execute on function private.export_assignments(uuid, date, date) to service_role;
