-- Reporting star schema: dimensions and facts copied from the tenant tables, three materialized
-- views over them, and the org-scoped functions the desktop calls (supabase rpc) to read them.
--
-- Who reads what. Materialized views cannot carry row level security, so nothing here is
-- granted to anon or authenticated: the star tables have RLS enabled and no policies, the views
-- have no grants, and every client read goes through a SECURITY DEFINER accessor that returns
-- only the caller's org and checks the caller's role. The service role may read everything.
--
-- How it stays current. public.refresh_reporting() (service role; pg_cron every 5 minutes
-- where available) loads changed attempts by transaction id window, never by timestamp, so a
-- transaction that commits late is still picked up (see "Incremental load" below).
--
-- Dates are UTC days: an attempt belongs to the day, week and month its started_at falls in at UTC.

-- Dimensions ----------------------------------------------------------------------------------

create table public.dim_orgs (
  org_id uuid primary key,
  name text not null,
  slug text not null,
  plan public.org_plan not null,
  created_at timestamptz not null
);
comment on table public.dim_orgs is 'Reporting dimension: one row per org (copied by refresh_reporting).';

-- One row per membership: a person in two orgs is two users here, each with that org's name,
-- role and teams.
create table public.dim_users (
  org_id uuid not null references public.dim_orgs (org_id) on delete cascade,
  user_id uuid not null,
  display_name text not null,
  role public.org_role not null,
  team_ids uuid[] not null default '{}',
  joined_at timestamptz not null,
  primary key (org_id, user_id)
);
comment on table public.dim_users is
  'Reporting dimension: one row per org membership, with display name, role and team ids.';

create table public.dim_scenarios (
  scenario_id uuid primary key,
  org_id uuid not null references public.dim_orgs (org_id) on delete cascade,
  title text not null,
  difficulty public.difficulty not null,
  status public.content_status not null,
  pass_score numeric(5, 2) not null
);
create index dim_scenarios_org_id_idx on public.dim_scenarios (org_id);
comment on table public.dim_scenarios is 'Reporting dimension: one row per scenario.';

create table public.dim_tracks (
  track_id uuid primary key,
  org_id uuid not null references public.dim_orgs (org_id) on delete cascade,
  title text not null,
  status public.content_status not null,
  -- The track's scenarios in track order.
  scenario_ids uuid[] not null default '{}'
);
create index dim_tracks_org_id_idx on public.dim_tracks (org_id);
comment on table public.dim_tracks is 'Reporting dimension: one row per track, with its scenarios in order.';

create table public.dim_time (
  date_key date primary key,
  day smallint not null,
  day_of_week smallint not null,
  iso_year int not null,
  iso_week smallint not null,
  month_start date not null,
  quarter smallint not null,
  year int not null
);
comment on table public.dim_time is
  'Reporting dimension: one row per UTC day; prefilled 2020-2035, extended for any attempt date.';

-- Facts ---------------------------------------------------------------------------------------

-- One row per scored or failed attempt. KPIs are copied out of scenario_attempts.kpis into
-- typed columns so reports aggregate them without parsing JSON.
create table public.fact_scenario_attempts (
  attempt_id uuid primary key,
  org_id uuid not null references public.dim_orgs (org_id) on delete cascade,
  user_id uuid not null,
  scenario_id uuid not null references public.dim_scenarios (scenario_id) on delete cascade,
  -- Assignments have no dimension (they change often and reports group by scenario and user).
  assignment_id uuid,
  date_key date not null references public.dim_time (date_key),
  started_at timestamptz not null,
  duration_seconds numeric(10, 3),
  status public.attempt_status not null check (status in ('scored', 'failed')),
  score numeric(5, 2),
  passed boolean not null,
  talk_ratio numeric,
  words_per_minute numeric,
  filler_words_per_minute numeric,
  filler_word_ratio numeric,
  longest_monologue_seconds numeric,
  questions_asked numeric,
  interruptions numeric,
  response_latency_seconds numeric,
  speaker_switches_per_minute numeric,
  keyword_coverage numeric,
  rep_talk_seconds numeric,
  rep_word_count numeric,
  call_duration_seconds numeric,
  foreign key (org_id, user_id) references public.dim_users (org_id, user_id) on delete cascade
);
create index fact_scenario_attempts_org_id_user_id_idx
  on public.fact_scenario_attempts (org_id, user_id);
create index fact_scenario_attempts_scenario_id_idx on public.fact_scenario_attempts (scenario_id);
create index fact_scenario_attempts_date_key_idx on public.fact_scenario_attempts (date_key);
comment on table public.fact_scenario_attempts is
  'Reporting fact: one row per scored or failed attempt, KPIs as numeric columns.';

-- The same KPIs in long form, one row per attempt and measured KPI (null KPIs have no row):
-- distributions over any KPI without a column per KPI. Only its key is indexed: it is read in
-- full by mv_scenario_insights, and every extra index would slow the load of 4+ rows an attempt.
create table public.fact_kpi_events (
  attempt_id uuid not null
    references public.fact_scenario_attempts (attempt_id) on delete cascade,
  kpi text not null,
  org_id uuid not null,
  scenario_id uuid not null,
  date_key date not null,
  value numeric not null,
  primary key (attempt_id, kpi)
);
comment on table public.fact_kpi_events is
  'Reporting fact: one row per attempt and measured KPI (granular KPI events).';

-- Clients never read these directly (see the header); RLS on with no policy is a second wall.
alter table public.dim_orgs enable row level security;
alter table public.dim_users enable row level security;
alter table public.dim_scenarios enable row level security;
alter table public.dim_tracks enable row level security;
alter table public.dim_time enable row level security;
alter table public.fact_scenario_attempts enable row level security;
alter table public.fact_kpi_events enable row level security;

revoke all on public.dim_orgs, public.dim_users, public.dim_scenarios, public.dim_tracks,
  public.dim_time, public.fact_scenario_attempts, public.fact_kpi_events
  from public, anon, authenticated, service_role;
-- Written only by refresh_reporting() (its owner); the service role reads them for exports.
grant select on public.dim_orgs, public.dim_users, public.dim_scenarios, public.dim_tracks,
  public.dim_time, public.fact_scenario_attempts, public.fact_kpi_events
  to service_role;

-- dim_time --------------------------------------------------------------------------------------

-- Adds the given days to dim_time (those already there are left alone); returns how many were new.
create or replace function private.extend_dim_time(days date[]) returns int
language sql volatile
set search_path = ''
as $$
  with added as (
    insert into public.dim_time (date_key, day, day_of_week, iso_year, iso_week, month_start,
                                 quarter, year)
    select d,
           extract(day from d)::smallint,
           extract(isodow from d)::smallint,
           extract(isoyear from d)::int,
           extract(week from d)::smallint,
           date_trunc('month', d::timestamp)::date,
           extract(quarter from d)::smallint,
           extract(year from d)::int
    from (select distinct unnest(days) as d) as wanted
    where d is not null
    on conflict (date_key) do nothing
    returning 1
  )
  select count(*)::int from added
$$;

select private.extend_dim_time(
  array(select generate_series(date '2020-01-01', date '2035-12-31', interval '1 day')::date));

-- Incremental load ---------------------------------------------------------------------------
-- The load cursor is a transaction id, not a time. Every source row carries sync_xid, the id of
-- the transaction that last wrote it (private.touch_row). A run loads rows with
--   watermark <= sync_xid < public.sync_watermark()
-- and then stores the upper bound as the new watermark. The upper bound is the oldest
-- transaction still running, so every row below it is committed and visible now; a transaction
-- still open when the run starts has an id at or above the bound and is loaded by a later run
-- however late it commits. (The cost: one long open transaction holds reporting back.)
-- Updated rows get a new sync_xid and so come round again; deleted attempts leave a tombstone.

create table private.reporting_state (
  singleton boolean primary key default true check (singleton),
  -- Every attempt with sync_xid below this has been loaded into the facts.
  watermark bigint not null default 0,
  refreshed_at timestamptz
);
insert into private.reporting_state default values;
alter table private.reporting_state enable row level security;

-- Ids of deleted attempts, until a refresh has removed their facts.
create table private.reporting_deleted_attempts (
  id bigint generated always as identity primary key,
  attempt_id uuid not null
);
alter table private.reporting_deleted_attempts enable row level security;

-- Statement-level, so deleting an org's many attempts writes one insert, not one per row.
-- SECURITY DEFINER because whoever deletes attempts (service role, a cascade) cannot write here.
create or replace function private.note_deleted_attempts() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into private.reporting_deleted_attempts (attempt_id)
  select gone.id from gone;
  return null;
end
$$;
create trigger reporting_note_deleted after delete on public.scenario_attempts
  referencing old table as gone
  for each statement execute function private.note_deleted_attempts();

-- The window query scans by sync_xid across all orgs; (org_id, sync_xid) cannot serve it.
create index scenario_attempts_sync_xid_idx on public.scenario_attempts (sync_xid);

-- Dimensions are small (one row per org, member, scenario, track), so each run compares them in
-- full and writes only rows that differ (EXCEPT). That also catches what leaves no sync_xid
-- behind: deleted rows and removed team or track memberships. Returns {upserted, deleted}.
create or replace function private.load_reporting_dimensions() returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  upserted int := 0;
  deleted int := 0;
  n int;
begin
  with changed as (
    select o.id, o.name, o.slug, o.plan, o.created_at from public.orgs o
    except
    select d.org_id, d.name, d.slug, d.plan, d.created_at from public.dim_orgs d
  ), written as (
    insert into public.dim_orgs (org_id, name, slug, plan, created_at)
    select * from changed
    on conflict (org_id) do update
      set name = excluded.name, slug = excluded.slug, plan = excluded.plan,
          created_at = excluded.created_at
    returning 1
  )
  select count(*) into n from written;
  upserted := upserted + n;

  with changed as (
    select m.org_id, m.user_id, m.display_name, m.role,
           coalesce((select array_agg(tm.team_id order by tm.team_id)
                     from public.team_members tm
                     where tm.org_id = m.org_id and tm.user_id = m.user_id), '{}') as team_ids,
           m.created_at
    from public.org_members m
    except
    select d.org_id, d.user_id, d.display_name, d.role, d.team_ids, d.joined_at
    from public.dim_users d
  ), written as (
    insert into public.dim_users (org_id, user_id, display_name, role, team_ids, joined_at)
    select * from changed
    on conflict (org_id, user_id) do update
      set display_name = excluded.display_name, role = excluded.role,
          team_ids = excluded.team_ids, joined_at = excluded.joined_at
    returning 1
  )
  select count(*) into n from written;
  upserted := upserted + n;

  with changed as (
    select s.id, s.org_id, s.title, s.difficulty, s.status, s.pass_score from public.scenarios s
    except
    select d.scenario_id, d.org_id, d.title, d.difficulty, d.status, d.pass_score
    from public.dim_scenarios d
  ), written as (
    insert into public.dim_scenarios (scenario_id, org_id, title, difficulty, status, pass_score)
    select * from changed
    on conflict (scenario_id) do update
      set org_id = excluded.org_id, title = excluded.title, difficulty = excluded.difficulty,
          status = excluded.status, pass_score = excluded.pass_score
    returning 1
  )
  select count(*) into n from written;
  upserted := upserted + n;

  with changed as (
    select t.id, t.org_id, t.title, t.status,
           coalesce((select array_agg(ts.scenario_id order by ts.position)
                     from public.track_scenarios ts where ts.track_id = t.id), '{}')
    from public.tracks t
    except
    select d.track_id, d.org_id, d.title, d.status, d.scenario_ids from public.dim_tracks d
  ), written as (
    insert into public.dim_tracks (track_id, org_id, title, status, scenario_ids)
    select * from changed
    on conflict (track_id) do update
      set org_id = excluded.org_id, title = excluded.title, status = excluded.status,
          scenario_ids = excluded.scenario_ids
    returning 1
  )
  select count(*) into n from written;
  upserted := upserted + n;

  -- Children first: a deleted org's users and scenarios would go by cascade, uncounted.
  delete from public.dim_tracks d
  where not exists (select 1 from public.tracks t where t.id = d.track_id);
  get diagnostics n = row_count;
  deleted := deleted + n;
  delete from public.dim_scenarios d
  where not exists (select 1 from public.scenarios s where s.id = d.scenario_id);
  get diagnostics n = row_count;
  deleted := deleted + n;
  delete from public.dim_users d
  where not exists (select 1 from public.org_members m
                    where m.org_id = d.org_id and m.user_id = d.user_id);
  get diagnostics n = row_count;
  deleted := deleted + n;
  delete from public.dim_orgs d where not exists (select 1 from public.orgs o where o.id = d.org_id);
  get diagnostics n = row_count;
  deleted := deleted + n;

  return jsonb_build_object('upserted', upserted, 'deleted', deleted);
end
$$;

-- Loads the attempts written by transactions in [from_xid, to_xid) into both fact tables, in one
-- statement so both see the same rows. Returns {upserted, deleted, kpi_events}.
create or replace function private.load_reporting_facts(from_xid bigint, to_xid bigint)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  result jsonb;
begin
  -- Days first: the facts reference dim_time. Rows leave the window only by being rewritten
  -- (their new sync_xid is above it), so the facts statement below sees no day missed here.
  perform private.extend_dim_time(array(
    select distinct (a.started_at at time zone 'UTC')::date
    from public.scenario_attempts a
    where a.sync_xid >= from_xid and a.sync_xid < to_xid and a.status in ('scored', 'failed')));

  with win as materialized (
    select a.id, a.org_id, a.user_id, a.scenario_id, a.assignment_id, a.started_at,
           (a.started_at at time zone 'UTC')::date as date_key, a.duration_seconds, a.status,
           a.score, a.score_breakdown, a.kpis, a.status in ('scored', 'failed') as reportable
    from public.scenario_attempts a
    where a.sync_xid >= from_xid and a.sync_xid < to_xid
  ), measured as materialized (
    -- The KPIs each attempt measured: known names with a number (null means not measured, and
    -- anything else is skipped rather than allowed to stop every later refresh).
    select w.id as attempt_id, k.kpi, w.org_id, w.scenario_id, w.date_key,
           k.value::numeric as value
    from win w
    cross join lateral jsonb_each(w.kpis) as k (kpi, value)
    where w.reportable and jsonb_typeof(k.value) = 'number' and k.kpi = any (private.kpi_names())
  ), kpi_columns as (
    select m.attempt_id,
           max(m.value) filter (where m.kpi = 'talk_ratio') as talk_ratio,
           max(m.value) filter (where m.kpi = 'words_per_minute') as words_per_minute,
           max(m.value) filter (where m.kpi = 'filler_words_per_minute')
             as filler_words_per_minute,
           max(m.value) filter (where m.kpi = 'filler_word_ratio') as filler_word_ratio,
           max(m.value) filter (where m.kpi = 'longest_monologue_seconds')
             as longest_monologue_seconds,
           max(m.value) filter (where m.kpi = 'questions_asked') as questions_asked,
           max(m.value) filter (where m.kpi = 'interruptions') as interruptions,
           max(m.value) filter (where m.kpi = 'response_latency_seconds')
             as response_latency_seconds,
           max(m.value) filter (where m.kpi = 'speaker_switches_per_minute')
             as speaker_switches_per_minute,
           max(m.value) filter (where m.kpi = 'keyword_coverage') as keyword_coverage,
           max(m.value) filter (where m.kpi = 'rep_talk_seconds') as rep_talk_seconds,
           max(m.value) filter (where m.kpi = 'rep_word_count') as rep_word_count,
           max(m.value) filter (where m.kpi = 'call_duration_seconds') as call_duration_seconds
    from measured m
    group by m.attempt_id
  ), upserted as (
    insert into public.fact_scenario_attempts as f (
      attempt_id, org_id, user_id, scenario_id, assignment_id, date_key, started_at,
      duration_seconds, status, score, passed, talk_ratio, words_per_minute,
      filler_words_per_minute, filler_word_ratio, longest_monologue_seconds, questions_asked,
      interruptions, response_latency_seconds, speaker_switches_per_minute, keyword_coverage,
      rep_talk_seconds, rep_word_count, call_duration_seconds)
    select w.id, w.org_id, w.user_id, w.scenario_id, w.assignment_id, w.date_key, w.started_at,
           w.duration_seconds, w.status, w.score,
           w.status = 'scored' and coalesce((w.score_breakdown ->> 'passed')::boolean, false),
           k.talk_ratio, k.words_per_minute, k.filler_words_per_minute, k.filler_word_ratio,
           k.longest_monologue_seconds, k.questions_asked, k.interruptions,
           k.response_latency_seconds, k.speaker_switches_per_minute, k.keyword_coverage,
           k.rep_talk_seconds, k.rep_word_count, k.call_duration_seconds
    from win w
    left join kpi_columns k on k.attempt_id = w.id
    where w.reportable
    on conflict (attempt_id) do update
      set org_id = excluded.org_id, user_id = excluded.user_id,
          scenario_id = excluded.scenario_id, assignment_id = excluded.assignment_id,
          date_key = excluded.date_key, started_at = excluded.started_at,
          duration_seconds = excluded.duration_seconds, status = excluded.status,
          score = excluded.score, passed = excluded.passed, talk_ratio = excluded.talk_ratio,
          words_per_minute = excluded.words_per_minute,
          filler_words_per_minute = excluded.filler_words_per_minute,
          filler_word_ratio = excluded.filler_word_ratio,
          longest_monologue_seconds = excluded.longest_monologue_seconds,
          questions_asked = excluded.questions_asked, interruptions = excluded.interruptions,
          response_latency_seconds = excluded.response_latency_seconds,
          speaker_switches_per_minute = excluded.speaker_switches_per_minute,
          keyword_coverage = excluded.keyword_coverage,
          rep_talk_seconds = excluded.rep_talk_seconds,
          rep_word_count = excluded.rep_word_count,
          call_duration_seconds = excluded.call_duration_seconds
      -- A rewrite that changed nothing reportable (a new recording path, say) writes nothing.
      where f.* is distinct from excluded.*
    returning 1
  ), unreportable as (
    -- An attempt moved back out of scored/failed (e.g. reset for rescoring) leaves the facts.
    delete from public.fact_scenario_attempts f
    using win w
    where f.attempt_id = w.id and not w.reportable
    returning 1
  ), stale_events as (
    delete from public.fact_kpi_events e
    using win w
    where e.attempt_id = w.id
      and not exists (select 1 from measured m where m.attempt_id = e.attempt_id and m.kpi = e.kpi)
    returning 1
  ), written_events as (
    insert into public.fact_kpi_events as e (attempt_id, kpi, org_id, scenario_id, date_key, value)
    select m.attempt_id, m.kpi, m.org_id, m.scenario_id, m.date_key, m.value from measured m
    on conflict (attempt_id, kpi) do update
      set org_id = excluded.org_id, scenario_id = excluded.scenario_id,
          date_key = excluded.date_key, value = excluded.value
      where e.* is distinct from excluded.*
    returning 1
  )
  select jsonb_build_object(
    'upserted', (select count(*) from upserted),
    'deleted', (select count(*) from unreportable),
    'kpi_events', (select count(*) from written_events) + (select count(*) from stale_events))
  into result;
  return result;
end
$$;

-- Removes the facts of deleted attempts. Only committed tombstones are visible here, and an id
-- that was deleted and then inserted again keeps its fact (the new row loads by its sync_xid).
create or replace function private.forget_deleted_attempts() returns int
language sql volatile
set search_path = ''
as $$
  with gone as (
    delete from private.reporting_deleted_attempts returning attempt_id
  ), removed as (
    delete from public.fact_scenario_attempts f
    using gone
    where f.attempt_id = gone.attempt_id
      and not exists (select 1 from public.scenario_attempts a where a.id = f.attempt_id)
    returning 1
  )
  select count(*)::int from removed
$$;

-- Materialized views --------------------------------------------------------------------------
-- Each has a unique index on plain columns, which REFRESH ... CONCURRENTLY needs (readers are
-- never blocked by a refresh). Created WITH DATA, so they start populated.

-- Per org, month and member: attempts, average and best score, passes, rank by average score
-- (ties share a rank; members without a score rank last).
create materialized view public.mv_leaderboard_month as
select f.org_id,
       t.month_start as month,
       f.user_id,
       u.display_name,
       count(*)::int as attempts,
       round(avg(f.score), 2) as avg_score,
       max(f.score) as best_score,
       (count(*) filter (where f.passed))::int as passed_attempts,
       (rank() over (partition by f.org_id, t.month_start
                     order by round(avg(f.score), 2) desc nulls last))::int as rank
from public.fact_scenario_attempts f
join public.dim_time t on t.date_key = f.date_key
join public.dim_users u on u.org_id = f.org_id and u.user_id = f.user_id
group by f.org_id, t.month_start, f.user_id, u.display_name
with data;
create unique index mv_leaderboard_month_key on public.mv_leaderboard_month (org_id, month, user_id);

-- Per org and month. pass_rate is passed / scored attempts (a failed attempt is one whose
-- processing failed, not a low score); KPI averages are over the attempts that measured them.
create materialized view public.mv_org_overview as
select f.org_id,
       t.month_start as month,
       (count(distinct f.user_id))::int as active_users,
       count(*)::int as attempts,
       (count(*) filter (where f.status = 'scored'))::int as scored_attempts,
       round(avg(f.score), 2) as avg_score,
       round((count(*) filter (where f.passed))::numeric
             / nullif(count(*) filter (where f.status = 'scored'), 0), 4) as pass_rate,
       round(avg(f.talk_ratio), 4) as avg_talk_ratio,
       round(avg(f.words_per_minute), 4) as avg_words_per_minute,
       round(avg(f.filler_word_ratio), 4) as avg_filler_word_ratio,
       round(avg(f.questions_asked), 4) as avg_questions_asked,
       round(avg(f.longest_monologue_seconds), 4) as avg_longest_monologue_seconds,
       round(avg(f.response_latency_seconds), 4) as avg_response_latency_seconds,
       round(avg(f.keyword_coverage), 4) as avg_keyword_coverage
from public.fact_scenario_attempts f
join public.dim_time t on t.date_key = f.date_key
group by f.org_id, t.month_start
with data;
create unique index mv_org_overview_key on public.mv_org_overview (org_id, month);

-- Per scenario (all time, every scenario including unpractised ones): attempts, scores, pass
-- rate, and for every KPI {n, avg, p25, p50, p75, p90}. Percentiles are percentile_disc: real
-- observed values, exact decimals.
create materialized view public.mv_scenario_insights as
with attempts as (
  select f.scenario_id,
         count(*)::int as attempts,
         (count(*) filter (where f.status = 'scored'))::int as scored_attempts,
         round(avg(f.score), 2) as avg_score,
         percentile_disc(0.5) within group (order by f.score) as median_score,
         round((count(*) filter (where f.passed))::numeric
               / nullif(count(*) filter (where f.status = 'scored'), 0), 4) as pass_rate
  from public.fact_scenario_attempts f
  group by f.scenario_id
), kpi_stats as (
  select e.scenario_id,
         jsonb_object_agg(e.kpi, jsonb_build_object(
           'n', e.n, 'avg', e.avg, 'p25', e.p25, 'p50', e.p50, 'p75', e.p75, 'p90', e.p90))
           as kpis
  from (
    select k.scenario_id, k.kpi, count(*) as n, round(avg(k.value), 4) as avg,
           percentile_disc(0.25) within group (order by k.value) as p25,
           percentile_disc(0.5) within group (order by k.value) as p50,
           percentile_disc(0.75) within group (order by k.value) as p75,
           percentile_disc(0.9) within group (order by k.value) as p90
    from public.fact_kpi_events k
    group by k.scenario_id, k.kpi
  ) as e
  group by e.scenario_id
)
select s.org_id,
       s.scenario_id,
       s.title,
       s.status,
       s.difficulty,
       coalesce(a.attempts, 0) as attempts,
       coalesce(a.scored_attempts, 0) as scored_attempts,
       a.avg_score,
       a.median_score,
       a.pass_rate,
       coalesce(k.kpis, '{}'::jsonb) as kpis
from public.dim_scenarios s
left join attempts a on a.scenario_id = s.scenario_id
left join kpi_stats k on k.scenario_id = s.scenario_id
with data;
create unique index mv_scenario_insights_key on public.mv_scenario_insights (org_id, scenario_id);

revoke all on public.mv_leaderboard_month, public.mv_org_overview, public.mv_scenario_insights
  from public, anon, authenticated, service_role;
grant select on public.mv_leaderboard_month, public.mv_org_overview, public.mv_scenario_insights
  to service_role;

-- Concurrently when it can: a view that was never populated (REFRESH ... WITH NO DATA) cannot
-- be refreshed concurrently, so it is filled the blocking way once.
create or replace function private.refresh_reporting_view(view_name text) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  if (select m.ispopulated from pg_catalog.pg_matviews m
      where m.schemaname = 'public' and m.matviewname = view_name) then
    execute format('refresh materialized view concurrently public.%I', view_name);
  else
    execute format('refresh materialized view public.%I', view_name);
  end if;
end
$$;

-- refresh_reporting ---------------------------------------------------------------------------
create or replace function public.refresh_reporting() returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  started timestamptz := clock_timestamp();
  from_xid bigint;
  to_xid bigint;
  dims jsonb;
  facts jsonb;
  forgotten int;
  changed boolean;
  reloaded boolean := false;
begin
  -- One run at a time: a second caller waits here, then starts from the first one's watermark.
  select s.watermark into from_xid from private.reporting_state s for update;
  -- Taken after the lock, so a waiting run sees what the run before it committed.
  to_xid := public.sync_watermark();
  if to_xid < from_xid then
    -- Transaction ids run behind the stored watermark: the database was restored into another
    -- cluster (pg_dump does not carry the xid counter). Every new row would sit below the
    -- watermark and never load, so start again from the beginning (upserts make it safe).
    raise warning 'reporting watermark % is ahead of this cluster''s transaction ids (%); '
      'reloading all attempts', from_xid, to_xid;
    reloaded := true;
    from_xid := 0;
  end if;

  dims := private.load_reporting_dimensions();
  facts := private.load_reporting_facts(from_xid, to_xid);
  forgotten := private.forget_deleted_attempts();

  update private.reporting_state
  set watermark = to_xid, refreshed_at = now();

  -- The views read only the star tables, which only this function writes: if nothing changed,
  -- they are already current.
  changed := (dims ->> 'upserted')::int + (dims ->> 'deleted')::int
             + (facts ->> 'upserted')::int + (facts ->> 'deleted')::int
             + (facts ->> 'kpi_events')::int + forgotten > 0;
  if changed or not (select bool_and(m.ispopulated) from pg_catalog.pg_matviews m
                     where m.schemaname = 'public'
                       and m.matviewname in ('mv_leaderboard_month', 'mv_org_overview',
                                             'mv_scenario_insights')) then
    perform private.refresh_reporting_view('mv_leaderboard_month');
    perform private.refresh_reporting_view('mv_org_overview');
    perform private.refresh_reporting_view('mv_scenario_insights');
    changed := true;
  end if;

  return jsonb_build_object(
    'previous_watermark', from_xid,
    'watermark', to_xid,
    'dims_upserted', (dims ->> 'upserted')::int,
    'dims_deleted', (dims ->> 'deleted')::int,
    'facts_upserted', (facts ->> 'upserted')::int,
    'facts_deleted', (facts ->> 'deleted')::int + forgotten,
    'kpi_events_written', (facts ->> 'kpi_events')::int,
    'views_refreshed', changed,
    'reloaded', reloaded,
    'duration_ms', round(extract(epoch from clock_timestamp() - started) * 1000, 1));
end
$$;
comment on function public.refresh_reporting() is
  'Loads changed dimensions and attempts into the reporting star schema (by transaction id '
  'watermark, so late commits are not missed) and refreshes the reporting materialized views.';
revoke execute on function public.refresh_reporting() from public, anon, authenticated;
grant execute on function public.refresh_reporting() to service_role;

revoke execute on function private.extend_dim_time(date[]), private.note_deleted_attempts(),
  private.load_reporting_dimensions(),
  private.load_reporting_facts(bigint, bigint), private.forget_deleted_attempts(),
  private.refresh_reporting_view(text)
  from public, anon, authenticated;

-- Accessors -----------------------------------------------------------------------------------
-- What the desktop calls (supabase rpc). Each returns rows of the caller's current org only and
-- checks the caller's role from the membership row, never from the token.

-- The caller's current org, if their role is one of `roles`; otherwise 42501 saying why.
create or replace function private.reporting_org(report text, variadic roles public.org_role[])
returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  org uuid := private.current_org_id();
  role public.org_role := private.current_org_role();
begin
  if org is null then
    raise exception '% needs a current org: sign in to an org you are a member of', report
      using errcode = 'insufficient_privilege';
  elsif not role = any (roles) then
    raise exception '% is only for % (your role in this org is %)', report,
      array_to_string(roles, ', '), role
      using errcode = 'insufficient_privilege';
  end if;
  return org;
end
$$;
revoke execute on function private.reporting_org(text, public.org_role[])
  from public, anon, authenticated;

-- The month's leaderboard of the caller's org; with `team`, only that team's members, ranked
-- among themselves (org_rank keeps their place in the whole org). Any member may see it.
create or replace function public.leaderboard_month(
  month date default (date_trunc('month', now() at time zone 'UTC'))::date,
  team uuid default null
) returns table (
  user_id uuid,
  display_name text,
  attempts int,
  avg_score numeric,
  best_score numeric,
  passed_attempts int,
  rank int,
  org_rank int
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('leaderboard_month', 'trainee', 'manager', 'admin', 'hr');
  first_day date := date_trunc('month', coalesce(leaderboard_month.month,
                                                 (now() at time zone 'UTC')::date)::timestamp);
begin
  if team is not null
     and not exists (select 1 from public.teams t where t.id = team and t.org_id = org) then
    raise exception 'team % is not a team of your org', team
      using errcode = 'invalid_parameter_value';
  end if;
  return query
  select l.user_id, l.display_name, l.attempts, l.avg_score, l.best_score, l.passed_attempts,
         case when team is null then l.rank
              else (rank() over (order by l.avg_score desc nulls last))::int end,
         l.rank
  from public.mv_leaderboard_month l
  where l.org_id = org
    and l.month = first_day
    and (team is null
         or exists (select 1 from public.team_members tm
                    where tm.org_id = org and tm.team_id = team and tm.user_id = l.user_id))
  order by 7, l.display_name, l.user_id;
end
$$;
comment on function public.leaderboard_month(date, uuid) is
  'Leaderboard of the caller''s org for the month containing `month` (UTC), optionally one team.';

-- The last `months` months (current month included, oldest first; empty months as zeros) of
-- the caller's org. For managers, admins and hr.
create or replace function public.org_overview(months int default 6)
returns table (
  month_start date,
  active_users int,
  attempts int,
  scored_attempts int,
  avg_score numeric,
  pass_rate numeric,
  avg_talk_ratio numeric,
  avg_words_per_minute numeric,
  avg_filler_word_ratio numeric,
  avg_questions_asked numeric,
  avg_longest_monologue_seconds numeric,
  avg_response_latency_seconds numeric,
  avg_keyword_coverage numeric
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('org_overview', 'manager', 'admin', 'hr');
  this_month date := date_trunc('month', now() at time zone 'UTC')::date;
begin
  if months is null or months not between 1 and 120 then
    raise exception 'months must be between 1 and 120 (got %)', months
      using errcode = 'invalid_parameter_value';
  end if;
  return query
  select m.month_start, coalesce(o.active_users, 0), coalesce(o.attempts, 0),
         coalesce(o.scored_attempts, 0), o.avg_score, o.pass_rate, o.avg_talk_ratio,
         o.avg_words_per_minute, o.avg_filler_word_ratio, o.avg_questions_asked,
         o.avg_longest_monologue_seconds, o.avg_response_latency_seconds, o.avg_keyword_coverage
  from (select (this_month - make_interval(months => i))::date as month_start
        from generate_series(0, org_overview.months - 1) as i) as m
  left join public.mv_org_overview o on o.org_id = org and o.month = m.month_start
  order by m.month_start;
end
$$;
comment on function public.org_overview(int) is
  'Monthly activity, scores and KPI averages of the caller''s org (managers, admins, hr).';

-- Per-scenario insights of the caller's org, or of one scenario. For managers, admins and hr;
-- hr, who cannot see draft scenarios, gets no insights on them either.
create or replace function public.scenario_insights(scenario uuid default null)
returns table (
  scenario_id uuid,
  title text,
  status public.content_status,
  difficulty public.difficulty,
  attempts int,
  scored_attempts int,
  avg_score numeric,
  median_score numeric,
  pass_rate numeric,
  kpis jsonb
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('scenario_insights', 'manager', 'admin', 'hr');
  sees_drafts boolean := private.has_org_role('manager', 'admin');
begin
  return query
  select i.scenario_id, i.title, i.status, i.difficulty, i.attempts, i.scored_attempts,
         i.avg_score, i.median_score, i.pass_rate, i.kpis
  from public.mv_scenario_insights i
  where i.org_id = org
    and (scenario is null or i.scenario_id = scenario)
    and (i.status <> 'draft' or sees_drafts)
  order by i.title, i.scenario_id;
end
$$;
comment on function public.scenario_insights(uuid) is
  'Attempts, scores, pass rate and KPI distributions per scenario of the caller''s org.';

revoke execute on function public.leaderboard_month(date, uuid), public.org_overview(int),
  public.scenario_insights(uuid)
  from public, anon;
grant execute on function public.leaderboard_month(date, uuid), public.org_overview(int),
  public.scenario_insights(uuid)
  to authenticated;

-- Schedule ------------------------------------------------------------------------------------
-- Every 5 minutes with pg_cron where this database can use it: pg_cron must be preloaded and
-- serves one database (cron.database_name: `postgres` on hosted Supabase, `coachdesk` for
-- `make run`). Elsewhere (plain Postgres, test databases) the migration only says so; call
-- refresh_reporting() from a job runner instead.
do $$
declare
  cron_db text := current_setting('cron.database_name', true);
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron') then
      raise notice 'pg_cron is not installed: refresh_reporting() is not scheduled';
      return;
    elsif cron_db is distinct from current_database() then
      raise notice 'pg_cron serves database "%", not "%": refresh_reporting() is not scheduled',
        coalesce(cron_db, '(pg_cron not preloaded)'), current_database();
      return;
    end if;
  end if;
  begin
    create extension if not exists pg_cron;
    perform cron.schedule('coachdesk-refresh-reporting', '*/5 * * * *',
                          'select public.refresh_reporting()');
  exception when others then
    raise notice 'pg_cron could not be used here (%): refresh_reporting() is not scheduled',
      sqlerrm;
  end;
end
$$;
