-- No rep speech, no score: score_attempt (and so the scoring queue, which scores through it)
-- marks an attempt whose transcript has no rep turn with words 'incomplete', with no KPIs, score
-- or breakdown, instead of scoring it 0.0. app/transcript.py has_rep_speech is the same rule on
-- the client, which keeps such calls local (ui/practice_controller.py, ui/recovery.py).
--
-- Reporting loads only 'scored' and 'failed' attempts, assignment and track completion and the
-- attempt.scored webhook fire only for 'scored', so an incomplete attempt counts nowhere. A
-- changed transcript is queued again as before, so one that now has rep speech is scored then.

create or replace function private.has_rep_speech(transcript jsonb) returns boolean
language sql immutable parallel safe
set search_path = ''
as $$
  select coalesce(bool_or(t.turn ->> 'speaker' = 'rep'
                          and pg_catalog.btrim(coalesce(t.turn ->> 'text', '')) <> ''), false)
  from jsonb_array_elements(
    case when jsonb_typeof(transcript -> 'turns') = 'array' then transcript -> 'turns'
         else '[]'::jsonb end) as t (turn)
$$;
comment on function private.has_rep_speech(jsonb) is
  'Whether a transcript has a rep turn with words: an attempt without is incomplete, never scored.';
revoke execute on function private.has_rep_speech(jsonb) from public, anon;
grant execute on function private.has_rep_speech(jsonb) to authenticated, service_role;

-- As in 20261125000700_scoring.sql, with the no-speech rule before the rubric is applied.
-- Returns NULL (no breakdown) for an incomplete attempt.
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
         a.score_breakdown, a.status, a.scored_at
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

  if not private.has_rep_speech(attempt.transcript) then
    -- Nothing was said: not a call to score. Written only when it changes anything, so a
    -- re-run produces no spurious sync.
    if attempt.status is distinct from 'incomplete' or attempt.kpis is not null
       or attempt.score is not null or attempt.score_breakdown is not null
       or attempt.scored_at is not null then
      update public.scenario_attempts a
      set kpis = null,
          score = null,
          score_breakdown = null,
          scored_at = null,
          status = 'incomplete',
          failure_reason = null
      where a.id = attempt.id;
    end if;
    return null;
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
  'Scores an attempt with its scenario''s rubric, stores KPIs, score and breakdown, returns the breakdown; an attempt without rep speech is marked incomplete instead (returns NULL).';
revoke execute on function public.score_attempt(uuid) from public, anon;
grant execute on function public.score_attempt(uuid) to authenticated, service_role;

-- A client may not take an incomplete attempt out of 'incomplete' without a new transcript
-- (a retried upsert of the same row keeps it), as it may not move one back from 'uploaded'.
-- As in 20261125000400, with that rule added.
create or replace function private.guard_attempt_write() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  is_client boolean := current_user in ('anon', 'authenticated');
begin
  if tg_op = 'UPDATE' then
    if new.id <> old.id or new.org_id <> old.org_id or new.user_id <> old.user_id
       or new.scenario_id <> old.scenario_id then
      raise exception 'an attempt cannot move to another org, user or scenario'
        using errcode = 'insufficient_privilege';
    end if;
    if is_client and old.status = 'scored' then
      if new.transcript is distinct from old.transcript then
        raise exception 'attempt % is already scored; its transcript can no longer change', old.id
          using errcode = 'check_violation';
      end if;
      new.status := 'scored';
    elsif is_client and old.status = 'uploaded' and new.status = 'recorded' then
      new.status := 'uploaded';
    elsif is_client and old.status = 'incomplete'
          and new.transcript is not distinct from old.transcript then
      new.status := 'incomplete';
    end if;
  end if;
  if is_client and new.status = 'scored' and (tg_op = 'INSERT' or old.status <> 'scored') then
    raise exception 'only the server scores attempts (status "scored" is set by score_attempt)'
      using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;

-- Attempts already scored 0.0 (or waiting) without a word from the rep become incomplete; the
-- UPDATE moves their sync_xid, so clients pull the change and the next refresh_reporting()
-- takes them out of the facts and the views.
update public.scenario_attempts a
set kpis = null, score = null, score_breakdown = null, scored_at = null,
    status = 'incomplete', failure_reason = null
where a.transcript is not null
  and a.status in ('recorded', 'uploaded', 'scored')
  and not private.has_rep_speech(a.transcript);
