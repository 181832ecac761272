-- Assignments (a scenario or a track, to a user or a team) and practice attempts.
-- Attempts carry client-generated ids so a retried push is an idempotent upsert.

create table public.assignments (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  scenario_id uuid,
  track_id uuid,
  user_id uuid,
  team_id uuid,
  due_at timestamptz,
  -- NULL means "the scenario's pass_score".
  required_score numeric(5, 2) check (required_score between 0 and 100),
  max_attempts int check (max_attempts > 0),
  note text not null default '',
  assigned_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (id, org_id),
  constraint assignments_one_content check (num_nonnulls(scenario_id, track_id) = 1),
  constraint assignments_one_assignee check (num_nonnulls(user_id, team_id) = 1),
  foreign key (scenario_id, org_id) references public.scenarios (id, org_id) on delete cascade,
  foreign key (track_id, org_id) references public.tracks (id, org_id) on delete cascade,
  foreign key (org_id, user_id) references public.org_members (org_id, user_id) on delete cascade,
  foreign key (team_id, org_id) references public.teams (id, org_id) on delete cascade
);
create index assignments_org_id_sync_xid_idx on public.assignments (org_id, sync_xid);
create index assignments_scenario_id_org_id_idx on public.assignments (scenario_id, org_id);
create index assignments_track_id_org_id_idx on public.assignments (track_id, org_id);
create index assignments_org_id_user_id_idx on public.assignments (org_id, user_id);
create index assignments_team_id_org_id_idx on public.assignments (team_id, org_id);
create index assignments_assigned_by_idx on public.assignments (assigned_by);

create type public.attempt_status as enum ('recorded', 'uploaded', 'scored', 'failed');

-- Transcript: turns in time order, each with a speaker, times in seconds, text and optional
-- word timings. This is the exact shape compute_kpis() reads.
create or replace function private.validate_transcript(transcript jsonb) returns void
language plpgsql immutable
set search_path = ''
as $$
declare
  turn jsonb;
  word jsonb;
  path text;
  previous_start numeric := 0;
  i int := 0;
  j int;
begin
  if jsonb_typeof(transcript) is distinct from 'object' then
    perform private.invalid('transcript', 'must be a JSON object');
  elsif jsonb_typeof(transcript -> 'turns') is distinct from 'array' then
    perform private.invalid('transcript', '"turns" must be an array');
  end if;
  for turn in select value from jsonb_array_elements(transcript -> 'turns') loop
    path := format('turns[%s]', i);
    if jsonb_typeof(turn) is distinct from 'object' then
      perform private.invalid('transcript', path || ' must be an object');
    elsif coalesce(turn ->> 'speaker', '') not in ('rep', 'persona') then
      perform private.invalid('transcript', path || '.speaker must be "rep" or "persona"');
    elsif jsonb_typeof(turn -> 'start') is distinct from 'number' then
      perform private.invalid('transcript', path || '.start must be a number of seconds >= 0');
    elsif (turn ->> 'start')::numeric < 0 then
      perform private.invalid('transcript', path || '.start must be a number of seconds >= 0');
    elsif jsonb_typeof(turn -> 'end') is distinct from 'number' then
      perform private.invalid('transcript', path || '.end must be a number >= start');
    elsif (turn ->> 'end')::numeric < (turn ->> 'start')::numeric then
      perform private.invalid('transcript', path || '.end must be a number >= start');
    elsif jsonb_typeof(turn -> 'text') is distinct from 'string' then
      perform private.invalid('transcript', path || '.text must be a string');
    elsif (turn ->> 'start')::numeric < previous_start then
      perform private.invalid('transcript', path || ' starts before the turn before it; turns must be in time order');
    elsif turn ? 'words' and jsonb_typeof(turn -> 'words') <> 'array' then
      perform private.invalid('transcript', path || '.words must be an array');
    end if;
    previous_start := (turn ->> 'start')::numeric;
    j := 0;
    for word in select value from jsonb_array_elements(coalesce(turn -> 'words', '[]')) loop
      if jsonb_typeof(word) is distinct from 'object'
         or jsonb_typeof(word -> 'word') is distinct from 'string'
         or jsonb_typeof(word -> 'start') is distinct from 'number'
         or jsonb_typeof(word -> 'end') is distinct from 'number' then
        perform private.invalid('transcript', format('%s.words[%s] needs "word" (string), "start" and "end" (numbers)', path, j));
      elsif (word ->> 'end')::numeric < (word ->> 'start')::numeric then
        perform private.invalid('transcript', format('%s.words[%s].end must be >= start', path, j));
      end if;
      j := j + 1;
    end loop;
    i := i + 1;
  end loop;
end
$$;
grant execute on function private.validate_transcript(jsonb) to authenticated, service_role;

create table public.scenario_attempts (
  -- Generated on the device, so a push retried after a crash updates instead of duplicating.
  id uuid primary key,
  org_id uuid not null references public.orgs (id) on delete cascade,
  user_id uuid not null default auth.uid(),
  assignment_id uuid,
  scenario_id uuid not null,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_seconds numeric(10, 3) check (duration_seconds >= 0),
  recording_path text check (recording_path !~ '(^/|\.\.)'),
  transcript_path text check (transcript_path !~ '(^/|\.\.)'),
  transcript jsonb,
  kpis jsonb,
  score numeric(5, 2) check (score between 0 and 100),
  score_breakdown jsonb,
  status public.attempt_status not null default 'recorded',
  failure_reason text,
  scored_at timestamptz,
  device_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  constraint scenario_attempts_ended_after_start check (ended_at >= started_at),
  constraint scenario_attempts_failure_has_reason
    check (status <> 'failed' or length(btrim(coalesce(failure_reason, ''))) > 0),
  foreign key (org_id, user_id) references public.org_members (org_id, user_id) on delete cascade,
  foreign key (scenario_id, org_id) references public.scenarios (id, org_id) on delete cascade,
  foreign key (assignment_id, org_id) references public.assignments (id, org_id) on delete set null (assignment_id)
);
comment on table public.scenario_attempts is
  'One practice call: timings, recording and transcript paths, transcript, KPIs, score.';
create index scenario_attempts_org_id_user_id_idx on public.scenario_attempts (org_id, user_id);
create index scenario_attempts_scenario_id_org_id_idx on public.scenario_attempts (scenario_id, org_id);
create index scenario_attempts_assignment_id_org_id_idx on public.scenario_attempts (assignment_id, org_id);
create index scenario_attempts_org_id_sync_xid_idx on public.scenario_attempts (org_id, sync_xid);
create index scenario_attempts_org_id_started_at_idx on public.scenario_attempts (org_id, started_at);

create or replace function private.check_attempt_transcript() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.transcript is not null then
    perform private.validate_transcript(new.transcript);
  end if;
  return new;
end
$$;

-- Clients (anon/authenticated) never score, never move an attempt to another org or owner, and
-- never move its status backwards; a scored attempt's transcript is final. Re-sending the same
-- data (a retried upsert) is accepted as a no-op, which keeps pushes idempotent.
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
    end if;
  end if;
  if is_client and new.status = 'scored' and (tg_op = 'INSERT' or old.status <> 'scored') then
    raise exception 'only the server scores attempts (status "scored" is set by score_attempt)'
      using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;

create trigger check_transcript before insert or update of transcript on public.scenario_attempts
  for each row execute function private.check_attempt_transcript();
create trigger guard_write before insert or update on public.scenario_attempts
  for each row execute function private.guard_attempt_write();
create trigger touch before insert or update on public.assignments
  for each row execute function private.touch_row();
create trigger touch before insert or update on public.scenario_attempts
  for each row execute function private.touch_row();

-- Is this assignment addressed to the caller (directly or through one of their teams)?
create or replace function private.assignment_is_mine(assignment_id uuid) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.assignments a
    where a.id = assignment_id
      and a.org_id = private.current_org_id()
      and (a.user_id = auth.uid() or a.team_id = any (private.my_team_ids()))
  )
$$;
grant execute on function private.assignment_is_mine(uuid) to authenticated, service_role;

-- Who may read an attempt: its owner, and managers, admins and hr of its org. For one-row
-- checks in SECURITY DEFINER functions (score_attempt). The select policy below states the same
-- rule inline because a function call per row cannot use init plans (1 ms/row measured);
-- tests/db assert the two agree.
create or replace function private.attempt_visible(attempt_org_id uuid, attempt_user_id uuid)
returns boolean
language sql stable
set search_path = ''
as $$
  select attempt_org_id = private.current_org_id()
     and (attempt_user_id = auth.uid() or private.has_org_role('manager', 'admin', 'hr'))
$$;
grant execute on function private.attempt_visible(uuid, uuid) to authenticated, service_role;

-- Row level security ------------------------------------------------------------------------
alter table public.assignments enable row level security;
alter table public.scenario_attempts enable row level security;

revoke all on public.assignments, public.scenario_attempts from anon, authenticated;
grant select, insert, update, delete on public.assignments to authenticated;
-- Score, breakdown and KPIs are written by the server only: no client column grant for them.
grant select on public.scenario_attempts to authenticated;
grant insert (id, org_id, user_id, assignment_id, scenario_id, started_at, ended_at,
              duration_seconds, recording_path, transcript_path, transcript, status,
              failure_reason, device_id)
  on public.scenario_attempts to authenticated;
-- An upsert (INSERT ... ON CONFLICT DO UPDATE SET <every column sent>) needs UPDATE on the
-- identity columns too; guard_attempt_write refuses any change to them.
grant update (id, org_id, user_id, scenario_id, started_at, assignment_id, ended_at,
              duration_seconds, recording_path, transcript_path, transcript, status,
              failure_reason, device_id)
  on public.scenario_attempts to authenticated;

-- Trainees see assignments addressed to them or their teams; managers, admins and hr see all
-- of their org's.
create policy assignments_select on public.assignments for select to authenticated
  using (
    org_id = (select private.current_org_id())
    and (
      user_id = (select auth.uid())
      or team_id = any ((select private.my_team_ids())::uuid[])
      or (select private.has_org_role('manager', 'admin', 'hr'))
    )
  );
-- Managers and admins assign, reschedule and withdraw work.
create policy assignments_insert_manager on public.assignments for insert to authenticated
  with check (
    org_id = (select private.current_org_id()) and (select private.has_org_role('manager', 'admin'))
  );
create policy assignments_update_manager on public.assignments for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('manager', 'admin')))
  with check (org_id = (select private.current_org_id()));
create policy assignments_delete_manager on public.assignments for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('manager', 'admin')));

-- Everyone sees their own attempts; managers, admins and hr see their org's.
create policy scenario_attempts_select on public.scenario_attempts for select to authenticated
  using (
    org_id = (select private.current_org_id())
    and (user_id = (select auth.uid()) or (select private.has_org_role('manager', 'admin', 'hr')))
  );
-- Anyone practising records attempts for themselves only, against their own assignments and
-- scenarios they can see (a trainee cannot practise, and so read the rubric of, a draft).
create policy scenario_attempts_insert_own on public.scenario_attempts for insert to authenticated
  with check (
    org_id = (select private.current_org_id())
    and user_id = (select auth.uid())
    and (assignment_id is null or private.assignment_is_mine(assignment_id))
    and exists (select 1 from public.scenarios s where s.id = scenario_attempts.scenario_id)
  );
-- ... and completes them (upload paths, transcript); attempts are never deleted by clients.
create policy scenario_attempts_update_own on public.scenario_attempts for update to authenticated
  using (org_id = (select private.current_org_id()) and user_id = (select auth.uid()))
  with check (
    org_id = (select private.current_org_id())
    and user_id = (select auth.uid())
    and (assignment_id is null or private.assignment_is_mine(assignment_id))
  );
