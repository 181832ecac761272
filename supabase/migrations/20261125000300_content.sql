-- Training content: scenarios (persona, branching dialog, rubric), tracks and their order.
-- Branching and rubric JSON are validated here with the same rules as resources/schemas/, so a
-- malformed document is refused with a message that says what is wrong and where.

create type public.content_status as enum ('draft', 'published', 'archived');
create type public.difficulty as enum ('beginner', 'intermediate', 'advanced');

-- KPI names a rubric may score on; compute_kpis (migration kpis) produces exactly these keys.
create or replace function private.kpi_names() returns text[]
language sql immutable
set search_path = ''
as $$
  select array[
    'talk_ratio', 'words_per_minute', 'filler_words_per_minute', 'filler_word_ratio',
    'longest_monologue_seconds', 'questions_asked', 'interruptions',
    'response_latency_seconds', 'speaker_switches_per_minute', 'keyword_coverage',
    'rep_talk_seconds', 'rep_word_count', 'call_duration_seconds'
  ]
$$;

create or replace function private.is_nonempty_string(value jsonb) returns boolean
language sql immutable
set search_path = ''
as $$
  select coalesce(jsonb_typeof(value) = 'string' and length(btrim(value #>> '{}')) > 0, false)
$$;

create or replace function private.is_string_list(value jsonb) returns boolean
language sql immutable
set search_path = ''
as $$
  select case when jsonb_typeof(value) = 'array' then
    jsonb_array_length(value) > 0
    and not exists (
      select 1 from jsonb_array_elements(value) e where not private.is_nonempty_string(e)
    )
  else false end
$$;

-- A JSON number within [low, high]; a NULL bound is open.
create or replace function private.is_number_in(value jsonb, low numeric, high numeric)
returns boolean
language sql immutable
set search_path = ''
as $$
  select case when jsonb_typeof(value) = 'number'
    then (low is null or (value #>> '{}')::numeric >= low)
     and (high is null or (value #>> '{}')::numeric <= high)
    else false end
$$;

-- Persona: who the rep is talking to.
create or replace function private.validate_persona(persona jsonb) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if jsonb_typeof(persona) is distinct from 'object' then
    perform private.invalid('persona', 'must be a JSON object');
  elsif not private.is_nonempty_string(persona -> 'name') then
    perform private.invalid('persona', '"name" must be a non-empty string');
  elsif not private.is_nonempty_string(persona -> 'role') then
    perform private.invalid('persona', '"role" must be a non-empty string');
  end if;
end
$$;

-- Branching: a dialog graph. Every edge must point at an existing node, every node that is not
-- an end node needs a way out, and a node has at most one default edge.
create or replace function private.validate_branching(branching jsonb) returns void
language plpgsql immutable
set search_path = ''
as $$
declare
  node jsonb;
  edge jsonb;
  node_ids text[] := '{}';
  node_path text;
  edge_path text;
  defaults int;
  is_end boolean;
  i int := 0;
  j int;
begin
  if jsonb_typeof(branching) is distinct from 'object' then
    perform private.invalid('branching', 'must be a JSON object');
  end if;
  if jsonb_typeof(branching -> 'nodes') is distinct from 'array'
     or jsonb_array_length(branching -> 'nodes') = 0 then
    perform private.invalid('branching', '"nodes" must be a non-empty array');
  end if;

  for node in select value from jsonb_array_elements(branching -> 'nodes') loop
    node_path := format('nodes[%s]', i);
    if jsonb_typeof(node) is distinct from 'object' then
      perform private.invalid('branching', node_path || ' must be an object');
    elsif not private.is_nonempty_string(node -> 'id') then
      perform private.invalid('branching', node_path || '.id must be a non-empty string');
    elsif (node ->> 'id') = any (node_ids) then
      perform private.invalid('branching', format('node id "%s" is used twice', node ->> 'id'));
    elsif not private.is_nonempty_string(node -> 'persona_line') then
      perform private.invalid('branching', node_path || '.persona_line must be a non-empty string');
    elsif node ? 'end' and jsonb_typeof(node -> 'end') <> 'boolean' then
      perform private.invalid('branching', node_path || '.end must be true or false');
    end if;
    node_ids := node_ids || (node ->> 'id');
    i := i + 1;
  end loop;

  if not private.is_nonempty_string(branching -> 'start') then
    perform private.invalid('branching', '"start" must name a node');
  elsif not (branching ->> 'start') = any (node_ids) then
    perform private.invalid('branching', format('"start" points at unknown node "%s"', branching ->> 'start'));
  end if;

  i := 0;
  for node in select value from jsonb_array_elements(branching -> 'nodes') loop
    node_path := format('node "%s"', node ->> 'id');
    is_end := coalesce((node ->> 'end')::boolean, false);
    if node ? 'edges' and jsonb_typeof(node -> 'edges') <> 'array' then
      perform private.invalid('branching', node_path || ': "edges" must be an array');
    end if;
    if is_end and coalesce(jsonb_array_length(node -> 'edges'), 0) > 0 then
      perform private.invalid('branching', node_path || ' is an end node and cannot have edges');
    elsif not is_end and coalesce(jsonb_array_length(node -> 'edges'), 0) = 0 then
      perform private.invalid('branching', node_path || ' is not an end node, so it needs at least one edge');
    end if;
    defaults := 0;
    j := 0;
    for edge in select value from jsonb_array_elements(coalesce(node -> 'edges', '[]')) loop
      edge_path := format('%s edges[%s]', node_path, j);
      if jsonb_typeof(edge) is distinct from 'object' then
        perform private.invalid('branching', edge_path || ' must be an object');
      elsif not private.is_nonempty_string(edge -> 'to') then
        perform private.invalid('branching', edge_path || '.to must name a node');
      elsif not (edge ->> 'to') = any (node_ids) then
        perform private.invalid('branching', format('%s points at unknown node "%s"', edge_path, edge ->> 'to'));
      end if;
      if edge -> 'default' = 'true'::jsonb then
        if edge ? 'when' then
          perform private.invalid('branching', edge_path || ' is a default edge and cannot have "when"');
        end if;
        defaults := defaults + 1;
      elsif jsonb_typeof(edge -> 'when') is distinct from 'object' then
        perform private.invalid('branching', edge_path || ' needs "when" or "default": true');
      elsif (select count(*) from jsonb_object_keys(edge -> 'when')) <> 1 then
        perform private.invalid('branching', edge_path || '.when must have exactly one of keywords, phrases, intent');
      elsif edge -> 'when' ? 'keywords' and not private.is_string_list(edge #> '{when,keywords}') then
        perform private.invalid('branching', edge_path || '.when.keywords must be a non-empty list of strings');
      elsif edge -> 'when' ? 'phrases' and not private.is_string_list(edge #> '{when,phrases}') then
        perform private.invalid('branching', edge_path || '.when.phrases must be a non-empty list of strings');
      elsif edge -> 'when' ? 'intent' and coalesce(edge #>> '{when,intent}', '') not in
            ('agree', 'decline', 'question', 'objection') then
        perform private.invalid('branching', edge_path || '.when.intent must be agree, decline, question or objection');
      elsif not (edge -> 'when' ?| array['keywords', 'phrases', 'intent']) then
        perform private.invalid('branching', edge_path || '.when must have exactly one of keywords, phrases, intent');
      end if;
      j := j + 1;
    end loop;
    if defaults > 1 then
      perform private.invalid('branching', node_path || ' has more than one default edge');
    end if;
    i := i + 1;
  end loop;

  if not exists (
    select 1 from jsonb_array_elements(branching -> 'nodes') n where n.value -> 'end' = 'true'::jsonb
  ) then
    perform private.invalid('branching', 'at least one node must be an end node');
  end if;
end
$$;

-- Rubric: weighted criteria; weights are in [0, 1] and sum to 1.
create or replace function private.validate_rubric(rubric jsonb) returns void
language plpgsql immutable
set search_path = ''
as $$
declare
  criterion jsonb;
  ids text[] := '{}';
  path text;
  total numeric := 0;
  i int := 0;
begin
  if jsonb_typeof(rubric) is distinct from 'object' then
    perform private.invalid('rubric', 'must be a JSON object');
  end if;
  if jsonb_typeof(rubric -> 'criteria') is distinct from 'array'
     or jsonb_array_length(rubric -> 'criteria') = 0 then
    perform private.invalid('rubric', '"criteria" must be a non-empty array');
  end if;

  for criterion in select value from jsonb_array_elements(rubric -> 'criteria') loop
    path := format('criteria[%s]', i);
    if jsonb_typeof(criterion) is distinct from 'object' then
      perform private.invalid('rubric', path || ' must be an object');
    elsif not private.is_nonempty_string(criterion -> 'id') then
      perform private.invalid('rubric', path || '.id must be a non-empty string');
    elsif (criterion ->> 'id') = any (ids) then
      perform private.invalid('rubric', format('criterion id "%s" is used twice', criterion ->> 'id'));
    elsif not private.is_number_in(criterion -> 'weight', 0, 1) then
      perform private.invalid('rubric', path || '.weight must be a number from 0 to 1');
    end if;
    ids := ids || (criterion ->> 'id');
    total := total + (criterion ->> 'weight')::numeric;

    if criterion ->> 'type' = 'kpi' then
      if not coalesce(criterion ->> 'kpi', '') = any (private.kpi_names()) then
        perform private.invalid('rubric', format('%s.kpi "%s" is not a known KPI', path, criterion ->> 'kpi'));
      elsif jsonb_typeof(criterion -> 'target') is distinct from 'object'
            or not (criterion -> 'target' ?| array['min', 'max']) then
        perform private.invalid('rubric', path || '.target must be an object with "min" and/or "max"');
      elsif (criterion -> 'target' ? 'min' and jsonb_typeof(criterion #> '{target,min}') <> 'number')
         or (criterion -> 'target' ? 'max' and jsonb_typeof(criterion #> '{target,max}') <> 'number') then
        perform private.invalid('rubric', path || '.target min and max must be numbers');
      elsif (criterion #>> '{target,min}')::numeric > (criterion #>> '{target,max}')::numeric then
        perform private.invalid('rubric', path || '.target min must not exceed max');
      elsif criterion ? 'tolerance' and not private.is_number_in(criterion -> 'tolerance', 0, null) then
        perform private.invalid('rubric', path || '.tolerance must be a number >= 0');
      end if;
    elsif criterion ->> 'type' = 'keywords' then
      if jsonb_typeof(criterion -> 'keywords') is distinct from 'array'
         or jsonb_array_length(criterion -> 'keywords') = 0
         or exists (select 1 from jsonb_array_elements(criterion -> 'keywords') g
                    where not private.is_string_list(g.value)) then
        perform private.invalid('rubric', path || '.keywords must be a non-empty list of non-empty lists of phrases');
      end if;
    else
      perform private.invalid('rubric', path || '.type must be "kpi" or "keywords"');
    end if;
    i := i + 1;
  end loop;

  if abs(total - 1) > 0.0001 then
    perform private.invalid('rubric', format('weights must sum to 1 (they sum to %s)', total));
  end if;
end
$$;

grant execute on function private.validate_persona(jsonb), private.validate_branching(jsonb),
  private.validate_rubric(jsonb), private.kpi_names(), private.is_nonempty_string(jsonb),
  private.is_string_list(jsonb), private.is_number_in(jsonb, numeric, numeric),
  private.invalid(text, text)
  to authenticated, service_role;

create table public.scenarios (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  title text not null check (length(btrim(title)) between 1 and 200),
  description text not null default '',
  persona jsonb not null,
  difficulty public.difficulty not null default 'beginner',
  ai_prompt text not null default '',
  branching jsonb not null,
  rubric jsonb not null,
  status public.content_status not null default 'draft',
  -- Score (0-100) an attempt needs to pass; 70 is the field's common default.
  pass_score numeric(5, 2) not null default 70 check (pass_score between 0 and 100),
  max_attempts int check (max_attempts > 0),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (id, org_id)
);
create index scenarios_org_id_sync_xid_idx on public.scenarios (org_id, sync_xid);
create index scenarios_created_by_idx on public.scenarios (created_by);

create table public.tracks (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  title text not null check (length(btrim(title)) between 1 and 200),
  description text not null default '',
  status public.content_status not null default 'draft',
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (id, org_id)
);
create index tracks_org_id_sync_xid_idx on public.tracks (org_id, sync_xid);
create index tracks_created_by_idx on public.tracks (created_by);

create table public.track_scenarios (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  track_id uuid not null,
  scenario_id uuid not null,
  position int not null check (position >= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (track_id, position) deferrable initially deferred,
  unique (track_id, scenario_id),
  foreign key (track_id, org_id) references public.tracks (id, org_id) on delete cascade,
  foreign key (scenario_id, org_id) references public.scenarios (id, org_id) on delete cascade
);
create index track_scenarios_track_id_org_id_idx on public.track_scenarios (track_id, org_id);
create index track_scenarios_scenario_id_org_id_idx on public.track_scenarios (scenario_id, org_id);
create index track_scenarios_org_id_sync_xid_idx on public.track_scenarios (org_id, sync_xid);

create or replace function private.check_scenario() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform private.validate_persona(new.persona);
  perform private.validate_branching(new.branching);
  perform private.validate_rubric(new.rubric);
  return new;
end
$$;

create trigger check_documents before insert or update of persona, branching, rubric
  on public.scenarios for each row execute function private.check_scenario();
create trigger touch before insert or update on public.scenarios
  for each row execute function private.touch_row();
create trigger touch before insert or update on public.tracks
  for each row execute function private.touch_row();
create trigger touch before insert or update on public.track_scenarios
  for each row execute function private.touch_row();

-- Row level security ------------------------------------------------------------------------
alter table public.scenarios enable row level security;
alter table public.tracks enable row level security;
alter table public.track_scenarios enable row level security;

revoke all on public.scenarios, public.tracks, public.track_scenarios from anon, authenticated;
grant select, insert, update, delete on public.scenarios, public.tracks, public.track_scenarios
  to authenticated;

-- Trainees and hr see content that is live or was live (archived content keeps old attempts
-- readable); managers and admins also see drafts.
create policy scenarios_select_member on public.scenarios for select to authenticated
  using (
    org_id = (select private.current_org_id())
    and (status <> 'draft' or (select private.has_org_role('manager', 'admin')))
  );
-- Only admins author content.
create policy scenarios_insert_admin on public.scenarios for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy scenarios_update_admin on public.scenarios for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy scenarios_delete_admin on public.scenarios for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));

create policy tracks_select_member on public.tracks for select to authenticated
  using (
    org_id = (select private.current_org_id())
    and (status <> 'draft' or (select private.has_org_role('manager', 'admin')))
  );
create policy tracks_insert_admin on public.tracks for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy tracks_update_admin on public.tracks for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy tracks_delete_admin on public.tracks for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));

-- The order of a track is visible with the track (the join is to rows the caller can see).
create policy track_scenarios_select_member on public.track_scenarios for select to authenticated
  using (
    org_id = (select private.current_org_id())
    and exists (select 1 from public.tracks t where t.id = track_scenarios.track_id)
  );
create policy track_scenarios_insert_admin on public.track_scenarios for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy track_scenarios_update_admin on public.track_scenarios for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy track_scenarios_delete_admin on public.track_scenarios for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
