-- Reporting: the star schema is closed to API roles, refresh_reporting() belongs to the service,
-- and the accessors answer with the caller's org only and only to the roles they are for.
begin;
select plan(21);

select has_table('public', t, format('table %s exists', t))
from unnest(array['dim_orgs', 'dim_users', 'dim_scenarios', 'dim_tracks', 'dim_time',
                  'fact_scenario_attempts', 'fact_kpi_events']) as t;
select has_materialized_view('public', v, format('materialized view %s exists', v))
from unnest(array['mv_leaderboard_month', 'mv_org_overview', 'mv_scenario_insights']) as v;

select is_empty(
  $$select c.relname || ' (' || r.role || ')'
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    cross join unnest(array['anon', 'authenticated']) as r (role)
    where n.nspname = 'public' and (c.relname like 'dim\_%' or c.relname like 'fact\_%'
                                    or c.relname like 'mv\_%')
      and has_table_privilege(r.role, c.oid,
                              'select, insert, update, delete, truncate, references, trigger')$$,
  'anon and authenticated hold no privilege on any reporting table or view');

select function_privs_are('public', 'refresh_reporting', array[]::text[], 'authenticated',
  array[]::text[], 'authenticated cannot run refresh_reporting');
select function_privs_are('public', 'refresh_reporting', array[]::text[], 'service_role',
  array['EXECUTE'], 'the service role runs refresh_reporting');
select function_privs_are('public', 'org_overview', array['integer'], 'anon',
  array[]::text[], 'anon cannot call the accessors');

select ok((public.refresh_reporting() ->> 'watermark')::bigint > 0,
  'refresh_reporting loads and returns the watermark it reached');

-- A demo trainee.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000001",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);

select ok(
  exists (select 1 from generate_series(0, 2) as i,
          public.leaderboard_month((now() - make_interval(months => i))::date)),
  'a trainee sees a leaderboard (the seed''s attempts are from the last weeks)');
select is_empty(
  $$select 1 from generate_series(0, 2) as i,
      public.leaderboard_month((now() - make_interval(months => i))::date) as l
    where l.user_id not in (select m.user_id from public.org_members m)$$,
  'the leaderboard lists members of the trainee''s own org only');
select throws_ok($$select * from public.org_overview()$$, '42501',
  'org_overview is only for manager, admin, hr (your role in this org is trainee)',
  'a trainee is refused the org overview');
select throws_ok($$select count(*) from public.fact_scenario_attempts$$, '42501', null,
  'a trainee cannot read the facts directly');

-- The demo manager sees insights on every scenario of the org, drafts included.
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000003",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);
select results_eq(
  $$select scenario_id from public.scenario_insights() order by 1$$,
  $$select id from public.scenarios order by 1$$,
  'a manager gets insights on exactly the scenarios they can see');

-- hr sees no drafts, in the content tables or in the insights.
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000005",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);
select results_eq(
  $$select scenario_id from public.scenario_insights() order by 1$$,
  $$select id from public.scenarios order by 1$$,
  'hr gets insights on exactly the scenarios they can see (no drafts)');

select * from finish();
rollback;
