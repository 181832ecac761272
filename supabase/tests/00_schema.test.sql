-- Schema shape: the seed's tables and functions exist, RLS is on, and the org helpers are hidden.
begin;
select plan(21);

select has_table('public', t, format('table %s exists', t))
from unnest(array['orgs', 'org_members', 'teams', 'team_members', 'scenarios', 'tracks',
                  'track_scenarios', 'assignments', 'scenario_attempts']) as t;

select ok(
  (select bool_and(c.relrowsecurity) from pg_class c
   join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind = 'r'),
  'every public table has row level security enabled'
);

select has_function('public', 'set_org_claim', array['uuid'], 'set_org_claim(uuid)');
select has_function('public', 'compute_kpis', array['jsonb', 'jsonb'], 'compute_kpis(jsonb, jsonb)');
select has_function('public', 'score_attempt', array['uuid'], 'score_attempt(uuid)');
select has_function('public', 'custom_access_token_hook', array['jsonb'], 'the token hook');
select has_function('private', 'current_org_id', 'the one org helper');

select function_privs_are('public', 'custom_access_token_hook', array['jsonb'], 'authenticated',
  array[]::text[], 'authenticated cannot run the token hook');
select function_privs_are('public', 'custom_access_token_hook', array['jsonb'],
  'supabase_auth_admin', array['EXECUTE'], 'supabase_auth_admin runs the token hook');
select volatility_is('public', 'compute_kpis', array['jsonb', 'jsonb'], 'immutable',
  'compute_kpis is IMMUTABLE');

select throws_ok(
  $$select private.validate_rubric('{"criteria": [{"id": "a", "type": "keywords", "weight": 0.5,
      "keywords": [["x"]]}]}'::jsonb)$$,
  '23514', 'rubric is invalid: weights must sum to 1 (they sum to 0.5)',
  'a rubric whose weights do not sum to 1 is refused with a clear message'
);
select throws_ok(
  $$select private.validate_branching('{"start": "a", "nodes": [{"id": "a", "persona_line": "Hi",
      "edges": [{"to": "b", "default": true}]}]}'::jsonb)$$,
  '23514', 'branching is invalid: node "a" edges[0] points at unknown node "b"',
  'an edge to a missing node is refused'
);
select throws_ok(
  $$select private.validate_transcript('{"turns": [{"speaker": "bot", "start": 0, "end": 1,
      "text": ""}]}'::jsonb)$$,
  '23514', 'transcript is invalid: turns[0].speaker must be "rep" or "persona"',
  'a turn with an unknown speaker is refused'
);

select * from finish();
rollback;
