-- Representative RLS cases, acting as PostgREST does: a role plus request.jwt.claims.
begin;
select plan(8);

-- A demo trainee.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000001",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);

select is((select count(*)::int from public.orgs), 1, 'a trainee sees exactly one org');
select is((select count(*)::int from public.scenarios where status = 'draft'), 0,
  'a trainee sees no drafts');
select is(
  (select count(*)::int from public.scenario_attempts
   where user_id <> 'a0000000-0000-4000-8000-000000000001'),
  0, 'a trainee sees only their own attempts');
select is_empty(
  $$update public.scenarios set title = 'x' returning id$$,
  'a trainee updates no scenario (hidden by USING, no error)');
select throws_ok(
  $$select public.set_org_claim('d0000000-0000-4000-8000-000000000002')$$,
  '42501', null, 'set_org_claim to a foreign org is refused');

-- The same user with a forged claim for Globex.
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000001",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000002"}', true);
select is((select count(*)::int from public.scenarios), 0,
  'a forged org claim without membership sees nothing');

-- The demo manager.
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000003",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);
select ok((select count(distinct user_id) > 1 from public.scenario_attempts),
  'a manager sees the attempts of the whole org');
select is(
  (select count(*)::int from public.scenario_attempts
   where org_id <> 'd0000000-0000-4000-8000-000000000001'),
  0, 'a manager sees no other org''s attempts');

select * from finish();
rollback;
