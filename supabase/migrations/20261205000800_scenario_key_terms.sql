-- Key terms (issue 19, item 2): the product names, competitor names and jargon a rep will say
-- in a scenario's call. The on-device speech model mishears them unless told to expect them;
-- the desktop app passes them to it first, before the hotwords it derives from the persona and
-- the rubric. A list an admin types in the Studio, so the rules are checked here for every
-- writer and said in words: at most 50 terms, each 1 to 60 characters after trimming, none
-- twice (ignoring case).

-- Used in the CHECK constraint; raises the precise problem (check_violation) as
-- private.assert_webhook_url does, so an admin knows what to fix.
create or replace function private.assert_key_terms(terms text[]) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  term text;
  trimmed text;
  seen text[] := '{}';
  problem text;
  n int := 0;
begin
  if terms is null then
    return true; -- NOT NULL reports a missing list
  end if;
  if cardinality(terms) > 50 then
    problem := format('at most 50 terms (this list has %s)', cardinality(terms));
  else
    foreach term in array terms loop
      n := n + 1;
      -- The blanks app/key_terms.py strips (chr(11): vertical tab, which E'' cannot spell).
      trimmed := btrim(coalesce(term, ''), E' \t\r\n\f' || chr(11));
      if trimmed = '' then
        problem := format('term %s is empty', n);
      elsif length(trimmed) > 60 then
        problem := format('term %s ("%s…") is longer than 60 characters', n, left(trimmed, 20));
      elsif lower(trimmed) = any (seen) then
        problem := format('"%s" is listed twice', trimmed);
      end if;
      exit when problem is not null;
      seen := seen || lower(trimmed);
    end loop;
  end if;
  if problem is not null then
    raise exception 'key_terms is invalid: %', problem
      using errcode = 'check_violation',
            hint = 'Up to 50 terms, each 1 to 60 characters, none twice.';
  end if;
  return true;
end
$$;
revoke execute on function private.assert_key_terms(text[]) from public, anon;
-- What an admin's own INSERT/UPDATE evaluates: pure validation, nothing that reads data.
grant execute on function private.assert_key_terms(text[]) to authenticated, service_role;

-- Every scenario so far has none (the default); touch_row does not run for an added column's
-- default, so the desktop cache reads the table again when it gains the column.
alter table public.scenarios
  add column key_terms text[] not null default '{}'
    constraint scenarios_key_terms_valid check (private.assert_key_terms(key_terms));
comment on column public.scenarios.key_terms is
  'Names and words the speech model should expect in this call (product and competitor '
  'names, jargon): at most 50, each 1-60 characters, none twice ignoring case.';

-- A published or archived version keeps its key terms, as it keeps the rest of its content
-- (guard_scenario_version, CD423).
create or replace function private.scenario_content_columns() returns text[]
language sql immutable
set search_path = ''
as $$
  select array['title', 'description', 'persona', 'difficulty', 'ai_prompt', 'branching',
               'rubric', 'pass_score', 'max_attempts', 'time_limit_seconds', 'key_terms']
$$;

-- As in 20261204000200_scenario_versions.sql, the new version also carrying the key terms.
create or replace function public.new_scenario_version(scenario_id uuid) returns uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  source public.scenarios;
  fresh uuid;
begin
  select s.* into source from public.scenarios s where s.id = new_scenario_version.scenario_id;
  if not found or not private.may_author_scenario(source.org_id) then
    raise exception 'scenario % not found or not visible to you', new_scenario_version.scenario_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the scenario''s org create its versions.';
  end if;
  if source.status = 'draft' then
    raise exception 'scenario "%" version % is a draft: edit it as it is', source.title,
      source.version
      using errcode = 'object_not_in_prerequisite_state',
            detail = jsonb_build_object('draft_id', source.id, 'version', source.version)::text;
  end if;
  insert into public.scenarios (org_id, lineage_id, title, description, persona, difficulty,
                                ai_prompt, branching, rubric, pass_score, max_attempts,
                                time_limit_seconds, key_terms, status)
  values (source.org_id, source.lineage_id, source.title, source.description, source.persona,
          source.difficulty, source.ai_prompt, source.branching, source.rubric,
          source.pass_score, source.max_attempts, source.time_limit_seconds, source.key_terms,
          'draft')
  returning id into fresh;
  return fresh;
end
$$;
