-- Conversation KPIs from a transcript: public.compute_kpis(transcript, rubric default null).
-- Pure and deterministic (IMMUTABLE, PARALLEL SAFE): the same JSON always gives the same KPIs,
-- on the server and in the desktop client (app/kpis.py computes identical numbers). To make that
-- parity exact, every time is first turned into integer milliseconds and every ratio is the
-- exact rational of two integers (or exact decimals) rounded once, half away from zero.
-- Definitions, ranges and their sources: docs/kpis.md.

-- Seconds (a JSON number) to integer milliseconds, half away from zero (numeric round()).
create or replace function private.kpi_ms(seconds jsonb) returns bigint
language sql immutable parallel safe
set search_path = ''
as $$
  select round((seconds #>> '{}')::numeric * 1000)::bigint
$$;

-- num / den rounded to `places` decimals, half away from zero, computed exactly: div() on
-- numerics truncates an exact quotient, so no intermediate rounding can tip a value that sits
-- near a half. NULL when den is zero (a KPI with no denominator is "not measured").
create or replace function private.kpi_ratio(num numeric, den numeric, places int)
returns numeric
language sql immutable parallel safe
set search_path = ''
as $$
  select case when num is null or den is null or den = 0 then null
    else round(
      sign(num) * sign(den)
      * div(2 * abs(num) * ('1e' || places)::numeric + abs(den), 2 * abs(den))
      * ('1e-' || places)::numeric,
      places)
  end
$$;

-- Words of a text: split on ASCII whitespace, strip ASCII punctuation at both ends, lowercase
-- A-Z only (the same under every locale and in Python), drop what is left empty.
create or replace function private.kpi_tokens(body text) returns text[]
language sql immutable parallel safe
set search_path = ''
as $$
  select coalesce(array_agg(w.token order by w.n), '{}')
  from (
    select s.n,
           translate(btrim(s.part, '.,!?;:"()[]{}'),
                     'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') as token
    from regexp_split_to_table(body, '[ \t\n\r]+') with ordinality as s (part, n)
  ) w
  where w.token <> ''
$$;

-- The turns of a transcript in array order, with integer times and words.
create or replace function private.kpi_turns(transcript jsonb)
returns table (n int, speaker text, start_ms bigint, end_ms bigint, text text, tokens text[])
language sql immutable parallel safe
set search_path = ''
as $$
  select t.n::int, t.turn ->> 'speaker', private.kpi_ms(t.turn -> 'start'),
         private.kpi_ms(t.turn -> 'end'), t.turn ->> 'text', private.kpi_tokens(t.turn ->> 'text')
  from jsonb_array_elements(transcript -> 'turns') with ordinality as t (turn, n)
$$;

-- How many keyword groups (a JSON array of arrays of phrases) the rep mentioned: a group counts
-- when one of its phrases, split into words like the transcript, occurs as consecutive words of
-- one rep turn. Words contain no space, so " a b " inside " x a b y " is exactly that test.
create or replace function private.keyword_hits(transcript jsonb, groups jsonb) returns int
language sql immutable parallel safe
set search_path = ''
as $$
  with rep_turn as (
    select ' ' || array_to_string(t.tokens, ' ') || ' ' as words
    from private.kpi_turns(transcript) t
    where t.speaker = 'rep'
  )
  select count(*)::int
  from jsonb_array_elements(groups) g
  where exists (
    select 1
    from jsonb_array_elements_text(g.value) p (phrase)
    cross join lateral (select private.kpi_tokens(p.phrase) as tokens) pt
    join rep_turn r on strpos(r.words, ' ' || array_to_string(pt.tokens, ' ') || ' ') > 0
    -- A phrase that is only punctuation has no words and is never "mentioned".
    where cardinality(pt.tokens) > 0
  )
$$;

create or replace function public.compute_kpis(transcript jsonb, rubric jsonb default null)
returns jsonb
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  result jsonb;
  groups_hit int := 0;
  groups_total int := 0;
  criterion jsonb;
begin
  if transcript is null then
    return null;
  end if;
  -- Callers outside the attempts table get the same precise message a bad upload gets.
  perform private.validate_transcript(transcript);

  if rubric is not null then
    perform private.validate_rubric(rubric);
    for criterion in
      select c.value from jsonb_array_elements(rubric -> 'criteria') c
      where c.value ->> 'type' = 'keywords'
    loop
      groups_hit := groups_hit + private.keyword_hits(transcript, criterion -> 'keywords');
      groups_total := groups_total + jsonb_array_length(criterion -> 'keywords');
    end loop;
  end if;

  with turn as (
    select t.*,
           lag(t.speaker) over w as prev_speaker,
           lag(t.end_ms) over w as prev_end_ms,
           -- Fillers: single words, plus "you know" and "i mean" counted once per occurrence.
           (select count(*)
            from unnest(t.tokens) with ordinality as u (token, i)
            where u.token = any (array['uh', 'um', 'umm', 'uhm', 'uh-huh', 'er', 'erm', 'ah',
                                       'hmm', 'mhmm', 'mm', 'basically'])
               or (u.token = 'you' and t.tokens[u.i::int + 1] = 'know')
               or (u.token = 'i' and t.tokens[u.i::int + 1] = 'mean')) as fillers,
           -- A monologue stretch ends at a persona turn that is more than a backchannel
           -- (at most 3 words, all acknowledgements): number the stretches by counting those.
           count(*) filter (
             where t.speaker = 'persona'
               and not (cardinality(t.tokens) <= 3
                        and t.tokens <@ array['yes', 'yeah', 'yep', 'ok', 'okay', 'right', 'sure',
                                              'mhmm', 'uh-huh', 'got', 'it', 'i', 'see'])
           ) over w as stretch
    from private.kpi_turns(transcript) t
    window w as (order by t.n)
  ),
  totals as (
    select
      coalesce(sum(end_ms - start_ms) filter (where speaker = 'rep'), 0) as rep_ms,
      coalesce(sum(end_ms - start_ms) filter (where speaker = 'persona'), 0) as persona_ms,
      max(end_ms) - min(start_ms) as call_ms,
      coalesce(sum(cardinality(tokens)) filter (where speaker = 'rep'), 0) as rep_words,
      coalesce(sum(fillers) filter (where speaker = 'rep'), 0) as fillers,
      coalesce(sum(regexp_count(text, '\?+')) filter (where speaker = 'rep'), 0) as questions,
      count(*) filter (where speaker = 'rep' and prev_speaker = 'persona'
                         and start_ms < prev_end_ms) as interruptions,
      sum(greatest(start_ms - prev_end_ms, 0))
        filter (where speaker = 'rep' and prev_speaker = 'persona') as latency_ms,
      count(*) filter (where speaker = 'rep' and prev_speaker = 'persona') as responses,
      count(*) filter (where speaker <> prev_speaker) as switches
    from turn
  ),
  monologue as (
    select max(stretch_ms) as longest_ms
    from (
      select max(end_ms) - min(start_ms) as stretch_ms
      from turn
      where speaker = 'rep'
      group by stretch
    ) s
  )
  select jsonb_build_object(
    'version', 1,
    'call_duration_seconds', private.kpi_ratio(x.call_ms, 1000, 3),
    'rep_talk_seconds', private.kpi_ratio(x.rep_ms, 1000, 3),
    'talk_ratio', private.kpi_ratio(x.rep_ms, x.rep_ms + x.persona_ms, 4),
    'rep_word_count', x.rep_words,
    'words_per_minute', private.kpi_ratio(x.rep_words * 60000, x.rep_ms, 1),
    'filler_words_per_minute', private.kpi_ratio(x.fillers * 60000, x.rep_ms, 2),
    'filler_word_ratio', private.kpi_ratio(x.fillers, x.rep_words, 4),
    'longest_monologue_seconds', private.kpi_ratio(m.longest_ms, 1000, 3),
    'questions_asked', x.questions,
    'interruptions', x.interruptions,
    'response_latency_seconds', private.kpi_ratio(x.latency_ms, x.responses * 1000, 3),
    'speaker_switches_per_minute', private.kpi_ratio(x.switches * 60000, x.call_ms, 2),
    'keyword_coverage', private.kpi_ratio(groups_hit, groups_total, 4)
  )
  into result
  from totals x cross join monologue m;
  return result;
end
$$;
comment on function public.compute_kpis(jsonb, jsonb) is
  'Deterministic conversation KPIs of a transcript (docs/kpis.md); with a rubric, also keyword_coverage.';

-- Pure functions of their arguments: any signed-in caller and the service may run them. The
-- helpers are granted because compute_kpis runs with the caller's rights.
revoke execute on function private.kpi_ms(jsonb), private.kpi_ratio(numeric, numeric, int),
  private.kpi_tokens(text), private.kpi_turns(jsonb), private.keyword_hits(jsonb, jsonb)
  from public, anon;
grant execute on function private.kpi_ms(jsonb), private.kpi_ratio(numeric, numeric, int),
  private.kpi_tokens(text), private.kpi_turns(jsonb), private.keyword_hits(jsonb, jsonb)
  to authenticated, service_role;
revoke execute on function public.compute_kpis(jsonb, jsonb) from public, anon;
grant execute on function public.compute_kpis(jsonb, jsonb) to authenticated, service_role;
