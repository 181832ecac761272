-- Scoring: a scenario's rubric applied to an attempt's KPIs and transcript.
-- One private function computes the breakdown; public.score_attempt() (on demand) and the
-- score_on_transcript trigger (automatic, when the transcript arrives) both use it, and
-- app/scoring.py computes the same numbers on the client as a provisional score.
-- Rules and formulas: docs/kpis.md ("Scoring").

-- A number for a sentence: no trailing zeros, never an exponent (app/scoring.py matches it).
create or replace function private.score_number(value numeric) returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select trim_scale(value)::text
$$;

-- One criterion, scored 0-100 (2 decimals), or NULL when the call does not measure it.
-- A KPI inside [min, max] scores 100; outside by d it scores 100 * max(0, 1 - d / tolerance),
-- so a missing or zero tolerance makes any miss a 0.
create or replace function private.score_criterion(criterion jsonb, kpis jsonb, transcript jsonb)
returns jsonb
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  kpi text := criterion ->> 'kpi';
  value jsonb;
  v numeric;
  low numeric := (criterion #>> '{target,min}')::numeric;
  high numeric := (criterion #>> '{target,max}')::numeric;
  tolerance numeric := coalesce((criterion ->> 'tolerance')::numeric, 0);
  target text;
  miss numeric := 0;
  side text;
  score numeric;
  detail text;
  hits int;
  groups int;
begin
  if criterion ->> 'type' = 'keywords' then
    groups := jsonb_array_length(criterion -> 'keywords');
    hits := private.keyword_hits(transcript, criterion -> 'keywords');
    return jsonb_build_object(
      'score', private.kpi_ratio(100 * hits, groups, 2),
      'value', hits,
      'detail', format('%s of %s keyword groups mentioned', hits, groups));
  end if;

  value := kpis -> kpi;
  if jsonb_typeof(value) is distinct from 'number' then
    return jsonb_build_object(
      'score', null,
      'value', null,
      'detail', format('not measured: %s has no value for this call', kpi));
  end if;

  v := (value #>> '{}')::numeric;
  target := case
    when low is not null and high is not null
      then format('from %s to %s', private.score_number(low), private.score_number(high))
    when low is not null then format('at least %s', private.score_number(low))
    else format('at most %s', private.score_number(high))
  end;
  if low is not null and v < low then
    miss := low - v;
    side := 'below';
  elsif high is not null and v > high then
    miss := v - high;
    side := 'above';
  end if;

  if miss = 0 then
    score := private.kpi_ratio(100, 1, 2);
    detail := format('%s is within the target (%s)', private.score_number(v), target);
  else
    score := case when tolerance = 0 then private.kpi_ratio(0, 1, 2)
                  else private.kpi_ratio(100 * greatest(tolerance - miss, 0), tolerance, 2) end;
    detail := format('%s is %s %s the target (%s); %s', private.score_number(v),
                     private.score_number(miss), side, target,
                     case when tolerance = 0 then 'no tolerance'
                          else 'tolerance ' || private.score_number(tolerance) end);
  end if;
  return jsonb_build_object('score', score, 'value', value, 'detail', detail);
end
$$;

-- The breakdown of an attempt: every criterion with its score, and the weighted total over the
-- criteria the call measured (weights renormalised). Refuses a rubric that is not valid with
-- validate_rubric's message, which names the problem.
create or replace function private.score_breakdown(
  rubric jsonb, kpis jsonb, transcript jsonb, pass_score numeric
) returns jsonb
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  criterion jsonb;
  scored jsonb;
  weight numeric;
  items jsonb := '[]';
  weighted numeric := 0;
  measured_weight numeric := 0;
  total numeric;
begin
  perform private.validate_rubric(rubric);
  for criterion in select c.value from jsonb_array_elements(rubric -> 'criteria') c loop
    weight := (criterion ->> 'weight')::numeric;
    scored := private.score_criterion(criterion, kpis, transcript);
    if scored ->> 'score' is not null then
      weighted := weighted + weight * (scored ->> 'score')::numeric;
      measured_weight := measured_weight + weight;
    end if;
    items := items || jsonb_build_array(jsonb_build_object(
      'id', criterion -> 'id',
      'label', coalesce(criterion -> 'label', criterion -> 'id'),
      'type', criterion -> 'type',
      'weight', criterion -> 'weight',
      'score', scored -> 'score',
      'value', scored -> 'value',
      'detail', scored -> 'detail'));
  end loop;
  -- Nothing measured (or only zero weights): there is no score rather than a misleading 0.
  total := private.kpi_ratio(weighted, measured_weight, 2);
  return jsonb_build_object(
    'version', 1,
    'score', total,
    'pass_score', pass_score,
    'passed', coalesce(total >= pass_score, false),
    'criteria', items);
end
$$;

-- Rubric and pass mark of an attempt's scenario. SECURITY DEFINER because the trainee whose
-- upload triggers scoring may not see a draft scenario; the (id, org) pair is the attempt's own,
-- so nothing of another org can be read through it.
create or replace function private.scenario_rubric(scenario_id uuid, org_id uuid,
  out rubric jsonb, out pass_score numeric)
language sql stable security definer
set search_path = ''
as $$
  select s.rubric, s.pass_score
  from public.scenarios s
  where s.id = scenario_rubric.scenario_id and s.org_id = scenario_rubric.org_id
$$;

-- BEFORE INSERT OR UPDATE OF transcript: a new or changed transcript is scored at once, so an
-- attempt comes back from its upload already scored. Runs after check_transcript (validated)
-- and guard_write (which refuses a client-set "scored"); the trigger name sorts after both.
create or replace function private.score_on_transcript() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  scenario record;
begin
  if new.transcript is null
     or (tg_op = 'UPDATE' and new.transcript is not distinct from old.transcript) then
    return new;
  end if;
  select r.rubric, r.pass_score into scenario
  from private.scenario_rubric(new.scenario_id, new.org_id) r;
  if scenario.rubric is null then
    -- No such scenario in this org: the foreign key refuses the row right after this trigger.
    return new;
  end if;
  begin
    perform private.validate_rubric(scenario.rubric);
  exception when check_violation then
    -- A rubric that bypassed validation must not cost the trainee their upload: keep the
    -- transcript unscored; score_attempt() reports the problem once someone asks for a score.
    raise warning 'attempt % left unscored: %', new.id, sqlerrm;
    return new;
  end;
  new.kpis := public.compute_kpis(new.transcript, scenario.rubric);
  new.score_breakdown := private.score_breakdown(scenario.rubric, new.kpis, new.transcript,
                                                 scenario.pass_score);
  new.score := (new.score_breakdown ->> 'score')::numeric;
  new.scored_at := now();
  new.status := 'scored';
  return new;
end
$$;

create trigger score_on_transcript
  before insert or update of transcript on public.scenario_attempts
  for each row execute function private.score_on_transcript();

-- score_attempt: (re)score one attempt on demand, e.g. after its scenario's rubric changed.
-- Callers see only what attempt_visible allows (owner; manager, admin, hr of its org); the
-- service role and a superuser session without a JWT (migrations, jobs) may score any attempt.
-- Re-running with nothing changed writes nothing, so it never produces a spurious sync.
create or replace function public.score_attempt(attempt_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  attempt record;
  scenario record;
  new_kpis jsonb;
  breakdown jsonb;
  unrestricted boolean := coalesce(auth.role() = 'service_role', false)
    or (auth.jwt() is null
        and coalesce((select r.rolsuper from pg_catalog.pg_roles r where r.rolname = session_user),
                     false));
begin
  select a.id, a.org_id, a.user_id, a.scenario_id, a.transcript, a.kpis, a.score,
         a.score_breakdown, a.status
  into attempt
  from public.scenario_attempts a
  where a.id = score_attempt.attempt_id;
  if not found
     or not (unrestricted
             or coalesce(private.attempt_visible(attempt.org_id, attempt.user_id), false)) then
    raise exception 'attempt % not found or not visible to you', score_attempt.attempt_id
      using errcode = 'insufficient_privilege';
  end if;
  if attempt.transcript is null then
    raise exception 'attempt % has no transcript yet; upload the transcript before scoring',
      attempt.id
      using errcode = 'invalid_parameter_value';
  end if;

  select r.rubric, r.pass_score into scenario
  from private.scenario_rubric(attempt.scenario_id, attempt.org_id) r;
  begin
    perform private.validate_rubric(scenario.rubric);
  exception when check_violation then
    raise exception 'cannot score attempt %: scenario %: %', attempt.id, attempt.scenario_id,
      sqlerrm
      using errcode = 'check_violation', hint = 'Fix the scenario''s rubric, then score again.';
  end;

  new_kpis := public.compute_kpis(attempt.transcript, scenario.rubric);
  breakdown := private.score_breakdown(scenario.rubric, new_kpis, attempt.transcript,
                                       scenario.pass_score);
  if attempt.status is distinct from 'scored'
     or attempt.kpis is distinct from new_kpis
     or attempt.score_breakdown is distinct from breakdown then
    update public.scenario_attempts a
    set kpis = new_kpis,
        score = (breakdown ->> 'score')::numeric,
        score_breakdown = breakdown,
        scored_at = now(),
        status = 'scored',
        failure_reason = null
    where a.id = attempt.id;
  end if;
  return breakdown;
end
$$;
comment on function public.score_attempt(uuid) is
  'Scores an attempt with its scenario''s rubric, stores KPIs, score and breakdown, returns the breakdown.';

-- The pure scoring helpers run with the caller's rights inside the trigger (a trainee's upload).
revoke execute on function private.score_number(numeric), private.score_criterion(jsonb, jsonb, jsonb),
  private.score_breakdown(jsonb, jsonb, jsonb, numeric), private.scenario_rubric(uuid, uuid),
  private.score_on_transcript()
  from public, anon;
grant execute on function private.score_number(numeric), private.score_criterion(jsonb, jsonb, jsonb),
  private.score_breakdown(jsonb, jsonb, jsonb, numeric), private.scenario_rubric(uuid, uuid)
  to authenticated, service_role;
revoke execute on function public.score_attempt(uuid) from public, anon;
grant execute on function public.score_attempt(uuid) to authenticated, service_role;
