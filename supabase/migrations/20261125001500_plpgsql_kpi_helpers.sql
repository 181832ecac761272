-- The KPI and scoring helpers, rewritten in PL/pgSQL for speed (the same reason as
-- 20261125001200_plpgsql_claim_helpers.sql).
--
-- A LANGUAGE sql function with a SET clause is never inlined, and on Postgres 15 it is parsed and
-- planned again in every statement that calls it; compute_kpis calls these helpers from about
-- twenty places, so every scored upload paid some twenty plannings. PL/pgSQL keeps its plans for
-- the session. keyword_hits also tokenised every rep turn once per keyword group; it now does it
-- once per call. Measured on the demo rubric with a four-turn transcript (2 shared cores):
-- compute_kpis 5.6 ms -> 1.3 ms, compute_kpis + score_breakdown 9.4 ms -> 2.4 ms
-- (bench/bench_sync.py; docs/benchmarks.md).
-- Same signatures, same results (the Python parity tests in tests/app/test_kpi_parity.py run
-- against these), same grants (create or replace keeps them).

create or replace function private.kpi_ms(seconds jsonb) returns bigint
language plpgsql immutable parallel safe
set search_path = ''
as $$
begin
  return round((seconds #>> '{}')::numeric * 1000)::bigint;
end
$$;

create or replace function private.kpi_ratio(num numeric, den numeric, places int)
returns numeric
language plpgsql immutable parallel safe
set search_path = ''
as $$
begin
  if num is null or den is null or den = 0 then
    return null;
  end if;
  return round(sign(num) * sign(den)
               * div(2 * abs(num) * ('1e' || places)::numeric + abs(den), 2 * abs(den))
               * ('1e-' || places)::numeric,
               places);
end
$$;

create or replace function private.kpi_tokens(body text) returns text[]
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  part text;
  token text;
  tokens text[] := '{}';
begin
  if body is null then
    return tokens;
  end if;
  foreach part in array regexp_split_to_array(body, '[ \t\n\r]+') loop
    token := translate(btrim(part, '.,!?;:"()[]{}'),
                       'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
    if token <> '' then
      tokens := tokens || token;
    end if;
  end loop;
  return tokens;
end
$$;

create or replace function private.kpi_turns(transcript jsonb)
returns table (n int, speaker text, start_ms bigint, end_ms bigint, text text, tokens text[])
language plpgsql immutable parallel safe
set search_path = ''
as $$
begin
  return query
  select t.n::int, t.turn ->> 'speaker', private.kpi_ms(t.turn -> 'start'),
         private.kpi_ms(t.turn -> 'end'), t.turn ->> 'text', private.kpi_tokens(t.turn ->> 'text')
  from jsonb_array_elements(transcript -> 'turns') with ordinality as t (turn, n);
end
$$;

-- Same rule as before: a group counts when one of its phrases, split into words like the
-- transcript, occurs as consecutive words of one rep turn (" a b " inside " x a b y ").
create or replace function private.keyword_hits(transcript jsonb, groups jsonb) returns int
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  rep_turns text[];
  keyword_group jsonb;
  phrase text;
  words text[];
  hits int := 0;
begin
  select coalesce(array_agg(' ' || array_to_string(private.kpi_tokens(t.turn ->> 'text'), ' ')
                            || ' '), '{}')
  into rep_turns
  from jsonb_array_elements(transcript -> 'turns') t (turn)
  where t.turn ->> 'speaker' = 'rep';

  for keyword_group in select g.value from jsonb_array_elements(groups) g loop
    for phrase in select p.value from jsonb_array_elements_text(keyword_group) p loop
      words := private.kpi_tokens(phrase);
      -- A phrase that is only punctuation has no words and is never "mentioned".
      if cardinality(words) > 0 and exists (
        select 1 from unnest(rep_turns) r (turn_words)
        where strpos(r.turn_words, ' ' || array_to_string(words, ' ') || ' ') > 0
      ) then
        hits := hits + 1;
        exit;
      end if;
    end loop;
  end loop;
  return hits;
end
$$;

create or replace function private.score_number(value numeric) returns text
language plpgsql immutable parallel safe
set search_path = ''
as $$
begin
  return trim_scale(value)::text;
end
$$;
