-- Completion reports (issue 20, item 6): completion by team, by track and by assignment, the
-- overdue list, and each scenario's score distribution, for HR's Reports tab.
--
-- Who reads what. Like the reporting accessors (20261125000900_reporting.sql) these are
-- SECURITY DEFINER functions for managers, admins and hr of the caller's current org, the role
-- read from org_members (private.reporting_org), never from the token. Admins and hr see the
-- whole org; a manager sees only the people in their own teams (the teams they are a member
-- of), so a manager's numbers count those people only and list only their teams. A forged or
-- stale org claim, a trainee or another org's member gets 42501 and no rows.
--
-- Where the numbers come from. Completion is read live from the tenant tables, not from the
-- star schema: assignments change often and have no dimension, and a pass scored a minute ago
-- should not leave someone on the overdue list until the next refresh. One person's standing
-- on one assignment is judged as the desktop judges it offline (app/client/assignments.py
-- judge, sync/cache_records.py due_from_row):
--   passed       every scenario of the assignment passed: the person's best server score on
--                any version of the scenario (its lineage) reaches the assignment's
--                required_score, else the scenario's pass_score;
--   failed       not passed and every attempt the cap allows used (the assignment's
--                max_attempts per scenario, else a one-scenario assignment's scenario cap);
--   overdue      not passed, past due_at;
--   in progress  not passed, at least one attempt (any status but incomplete) on its
--                scenarios; otherwise not started.
-- A team assignment addresses the team's members now (as the desktop's cache does). The score
-- distribution is the star schema's (fact_scenario_attempts, as scenario_insights' pass rate).

-- A covering index for the per-person best scores and attempt counts that every completion
-- report aggregates over the org's attempts: read from the index alone (no heap visit per
-- attempt), which keeps a report on an org with tens of thousands of attempts at a few ms.
create index scenario_attempts_org_progress_idx
  on public.scenario_attempts (org_id, user_id, scenario_id) include (status, score);

-- Who the caller's reports cover in `org`: null for admins and hr (everyone), else the members
-- of the caller's teams (managers).
create or replace function private.reporting_people(org uuid) returns uuid[]
language plpgsql stable
set search_path = ''
as $$
begin
  if private.has_org_role('admin', 'hr') then
    return null;
  end if;
  return array(
    select distinct tm.user_id from public.team_members tm
    where tm.org_id = org and tm.team_id = any (private.my_team_ids()));
end
$$;

-- Every (assignment, addressed person) of `org` within `people` (null: everyone), with that
-- person's standing at `as_of` (see the header). Called only by the accessors below.
create or replace function private.assignment_progress(org uuid, people uuid[], as_of timestamptz)
returns table (
  assignment_id uuid,
  user_id uuid,
  scenarios int,
  scenarios_passed int,
  attempts int,
  best_score numeric,
  progress text
)
language sql stable
set search_path = ''
as $$
  with pairs as (
    select a.id, coalesce(a.user_id, tm.user_id) as user_id, a.due_at, a.required_score,
           a.max_attempts
    from public.assignments a
    left join public.team_members tm on tm.org_id = a.org_id and tm.team_id = a.team_id
    where a.org_id = org
      and coalesce(a.user_id, tm.user_id) is not null
      and (people is null or coalesce(a.user_id, tm.user_id) = any (people))
  ), items as (
    -- Each assignment's scenarios: its one scenario, or its track's.
    select a.id as assignment_id, coalesce(ts.scenario_id, a.scenario_id) as scenario_id
    from public.assignments a
    left join public.track_scenarios ts on ts.org_id = a.org_id and ts.track_id = a.track_id
    where a.org_id = org and coalesce(ts.scenario_id, a.scenario_id) is not null
  ), tried as (
    select t.user_id, t.scenario_id,
           (count(*) filter (where t.status <> 'incomplete'))::int as n,
           max(t.score) filter (where t.status = 'scored') as best
    from public.scenario_attempts t
    where t.org_id = org and (people is null or t.user_id = any (people))
    group by t.user_id, t.scenario_id
  ), best_of_lineage as (
    select t.user_id, s.lineage_id, max(t.best) as best
    from tried t
    join public.scenarios s on s.id = t.scenario_id
    group by t.user_id, s.lineage_id
  ), judged as (
    select p.id, p.user_id, p.due_at,
           count(i.scenario_id)::int as scenarios,
           (count(*) filter (where b.best >= coalesce(p.required_score, s.pass_score)))::int
             as scenarios_passed,
           coalesce(sum(t.n), 0)::int as attempts,
           max(b.best) as best_score,
           case when p.max_attempts is not null then p.max_attempts * greatest(count(i.scenario_id), 1)
                when count(i.scenario_id) = 1 then max(s.max_attempts)
           end as cap
    from pairs p
    left join items i on i.assignment_id = p.id
    left join public.scenarios s on s.id = i.scenario_id
    left join best_of_lineage b on b.user_id = p.user_id and b.lineage_id = s.lineage_id
    left join tried t on t.user_id = p.user_id and t.scenario_id = i.scenario_id
    group by p.id, p.user_id, p.due_at, p.required_score, p.max_attempts
  )
  select j.id, j.user_id, j.scenarios, j.scenarios_passed, j.attempts, j.best_score,
         case when j.scenarios > 0 and j.scenarios_passed >= j.scenarios then 'passed'
              when j.cap is not null and j.attempts >= j.cap then 'failed'
              when j.due_at is not null and j.due_at < as_of then 'overdue'
              when j.attempts > 0 then 'in progress'
              else 'not started'
         end
  from judged j
$$;

revoke execute on function private.reporting_people(uuid),
  private.assignment_progress(uuid, uuid[], timestamptz)
  from public, anon, authenticated;

-- Accessors -----------------------------------------------------------------------------------
-- The counts every completion report gives, one row per group: `assigned` is the number of
-- (assignment, person) pairs in the group; the five states add up to it.

-- Each assignment of the caller's org (a manager: those addressing someone in their teams),
-- newest first, with how many of its people stand where.
create or replace function public.assignment_completion()
returns table (
  assignment_id uuid,
  title text,
  kind text,
  assignee text,
  team_id uuid,
  user_id uuid,
  due_at timestamptz,
  created_at timestamptz,
  assigned int,
  passed int,
  in_progress int,
  not_started int,
  overdue int,
  failed int
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('assignment_completion', 'manager', 'admin', 'hr');
  people uuid[] := private.reporting_people(org);
begin
  return query
  with progress as (
    select p.assignment_id,
           count(*)::int as assigned,
           (count(*) filter (where p.progress = 'passed'))::int as passed,
           (count(*) filter (where p.progress = 'in progress'))::int as in_progress,
           (count(*) filter (where p.progress = 'not started'))::int as not_started,
           (count(*) filter (where p.progress = 'overdue'))::int as overdue,
           (count(*) filter (where p.progress = 'failed'))::int as failed
    from private.assignment_progress(org, people, now()) p
    group by p.assignment_id
  )
  select a.id, coalesce(tr.title, s.title, '(not available)'),
         case when a.track_id is not null then 'track' else 'scenario' end,
         coalesce('Team ' || tm.name, m.display_name, '(not available)'),
         a.team_id, a.user_id, a.due_at, a.created_at,
         coalesce(p.assigned, 0), coalesce(p.passed, 0), coalesce(p.in_progress, 0),
         coalesce(p.not_started, 0), coalesce(p.overdue, 0), coalesce(p.failed, 0)
  from public.assignments a
  left join progress p on p.assignment_id = a.id
  left join public.tracks tr on tr.id = a.track_id
  left join public.scenarios s on s.id = a.scenario_id
  left join public.teams tm on tm.id = a.team_id
  left join public.org_members m on m.org_id = a.org_id and m.user_id = a.user_id
  where a.org_id = org and (people is null or p.assigned > 0)
  order by a.created_at desc, a.id;
end
$$;
comment on function public.assignment_completion() is
  'Each assignment of the caller''s org with its people passed, in progress, not started, '
  'overdue and failed (managers: their teams'' people only).';

-- Each team of the caller's org (a manager: their own teams) with its members and where they
-- stand on everything assigned to them (directly or through any team).
create or replace function public.team_completion()
returns table (
  team_id uuid,
  name text,
  members int,
  assigned int,
  passed int,
  in_progress int,
  not_started int,
  overdue int,
  failed int
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('team_completion', 'manager', 'admin', 'hr');
  people uuid[] := private.reporting_people(org);
  mine uuid[] := case when people is null then null else private.my_team_ids() end;
begin
  return query
  with progress as (
    select * from private.assignment_progress(org, people, now())
  ), per_team as (
    select tm.team_id,
           count(distinct tm.user_id)::int as members,
           count(p.assignment_id)::int as assigned,
           (count(*) filter (where p.progress = 'passed'))::int as passed,
           (count(*) filter (where p.progress = 'in progress'))::int as in_progress,
           (count(*) filter (where p.progress = 'not started'))::int as not_started,
           (count(*) filter (where p.progress = 'overdue'))::int as overdue,
           (count(*) filter (where p.progress = 'failed'))::int as failed
    from public.team_members tm
    left join progress p on p.user_id = tm.user_id
    where tm.org_id = org
    group by tm.team_id
  )
  select t.id, t.name, coalesce(c.members, 0), coalesce(c.assigned, 0), coalesce(c.passed, 0),
         coalesce(c.in_progress, 0), coalesce(c.not_started, 0), coalesce(c.overdue, 0),
         coalesce(c.failed, 0)
  from public.teams t
  left join per_team c on c.team_id = t.id
  where t.org_id = org and (mine is null or t.id = any (mine))
  order by t.name, t.id;
end
$$;
comment on function public.team_completion() is
  'Each team of the caller''s org (managers: their own) with where its members stand on their '
  'assignments.';

-- Each track of the caller's org that has assignments or is not a draft, with where the
-- people assigned it stand (a manager: their teams' people).
create or replace function public.track_completion()
returns table (
  track_id uuid,
  title text,
  status public.content_status,
  scenarios int,
  assignments int,
  assigned int,
  passed int,
  in_progress int,
  not_started int,
  overdue int,
  failed int
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('track_completion', 'manager', 'admin', 'hr');
  people uuid[] := private.reporting_people(org);
begin
  return query
  with progress as (
    select a.track_id,
           count(distinct a.id)::int as assignments,
           count(*)::int as assigned,
           (count(*) filter (where p.progress = 'passed'))::int as passed,
           (count(*) filter (where p.progress = 'in progress'))::int as in_progress,
           (count(*) filter (where p.progress = 'not started'))::int as not_started,
           (count(*) filter (where p.progress = 'overdue'))::int as overdue,
           (count(*) filter (where p.progress = 'failed'))::int as failed
    from private.assignment_progress(org, people, now()) p
    join public.assignments a on a.id = p.assignment_id
    where a.track_id is not null
    group by a.track_id
  )
  select t.id, t.title, t.status,
         (select count(*)::int from public.track_scenarios ts where ts.track_id = t.id),
         coalesce(p.assignments, 0), coalesce(p.assigned, 0), coalesce(p.passed, 0),
         coalesce(p.in_progress, 0), coalesce(p.not_started, 0), coalesce(p.overdue, 0),
         coalesce(p.failed, 0)
  from public.tracks t
  left join progress p on p.track_id = t.id
  where t.org_id = org and (t.status <> 'draft' or p.assigned > 0)
  order by t.title, t.id;
end
$$;
comment on function public.track_completion() is
  'Each track of the caller''s org with where the people assigned it stand.';

-- Everyone past a due date without passing (a manager: their teams' people), latest first:
-- who, which assignment, when it was due, and how many whole days late.
create or replace function public.overdue_assignments()
returns table (
  assignment_id uuid,
  title text,
  user_id uuid,
  display_name text,
  due_at timestamptz,
  days_late int,
  scenarios int,
  scenarios_passed int,
  attempts int
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('overdue_assignments', 'manager', 'admin', 'hr');
  people uuid[] := private.reporting_people(org);
  as_of timestamptz := now();
begin
  return query
  select a.id, coalesce(tr.title, s.title, '(not available)'), p.user_id,
         coalesce(m.display_name, '(no longer a member)'), a.due_at,
         floor(extract(epoch from as_of - a.due_at) / 86400)::int,
         p.scenarios, p.scenarios_passed, p.attempts
  from private.assignment_progress(org, people, as_of) p
  join public.assignments a on a.id = p.assignment_id
  left join public.tracks tr on tr.id = a.track_id
  left join public.scenarios s on s.id = a.scenario_id
  left join public.org_members m on m.org_id = org and m.user_id = p.user_id
  where p.progress = 'overdue'
  order by 6 desc, 4, a.id, p.user_id;
end
$$;
comment on function public.overdue_assignments() is
  'Who is past an assignment''s due date without passing it, and how many days late.';

-- Each scenario's scored attempts in ten 10-point bands (0-9.99, ..., 90-100; a 100 is in the
-- last) with its pass rate (passed / scored) and average, from the star schema; a manager's
-- count their teams' people only; hr, who cannot see drafts, gets none of them.
create or replace function public.scenario_score_distribution()
returns table (
  scenario_id uuid,
  title text,
  status public.content_status,
  scored_attempts int,
  passed_attempts int,
  pass_rate numeric,
  avg_score numeric,
  bands int[]
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('scenario_score_distribution', 'manager', 'admin', 'hr');
  people uuid[] := private.reporting_people(org);
  sees_drafts boolean := private.has_org_role('manager', 'admin');
begin
  return query
  with banded as (
    select f.scenario_id, least(width_bucket(f.score, 0, 100, 10), 10) as band,
           count(*)::int as n, (count(*) filter (where f.passed))::int as passed,
           sum(f.score) as total
    from public.fact_scenario_attempts f
    where f.org_id = org and f.status = 'scored' and f.score is not null
      and (people is null or f.user_id = any (people))
    group by f.scenario_id, 2
  ), per_scenario as (
    select b.scenario_id, sum(b.n)::int as n, sum(b.passed)::int as passed,
           round(sum(b.total) / sum(b.n), 2) as avg_score
    from banded b
    group by b.scenario_id
  ), band_counts as (
    select p.scenario_id, array_agg(coalesce(b.n, 0) order by i) as bands
    from per_scenario p
    cross join generate_series(1, 10) as i
    left join banded b on b.scenario_id = p.scenario_id and b.band = i
    group by p.scenario_id
  )
  select d.scenario_id, d.title, d.status, coalesce(p.n, 0), coalesce(p.passed, 0),
         round(p.passed::numeric / nullif(p.n, 0), 4), p.avg_score,
         coalesce(c.bands, array_fill(0, array[10]))
  from public.dim_scenarios d
  left join per_scenario p on p.scenario_id = d.scenario_id
  left join band_counts c on c.scenario_id = d.scenario_id
  where d.org_id = org and (d.status <> 'draft' or sees_drafts)
  order by d.title, d.scenario_id;
end
$$;
comment on function public.scenario_score_distribution() is
  'Scored attempts per 10-point score band, pass rate and average per scenario of the caller''s '
  'org (managers: their teams'' people).';

revoke execute on function public.assignment_completion(), public.team_completion(),
  public.track_completion(), public.overdue_assignments(), public.scenario_score_distribution()
  from public, anon;
grant execute on function public.assignment_completion(), public.team_completion(),
  public.track_completion(), public.overdue_assignments(), public.scenario_score_distribution()
  to authenticated;
