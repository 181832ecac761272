-- Scenario versions (issue 19, items 7, 9 and 10): a published scenario is never changed in
-- place. Each version is its own scenarios row; the rows of one scenario share a lineage_id and
-- are numbered by version. Editing something live means new_scenario_version() (a draft copy,
-- version max + 1) and publish_scenario() (the draft goes live, and the lineage's version that
-- was live is archived in the same transaction). An attempt's scenario_id names the very row it
-- was practised on, and never changes (guard_attempt_write), so an old attempt keeps the rubric
-- it was scored with, its score, and the version its review names.
--
-- Two admins editing one draft: every update increments `revision`. A save says which revision
-- it was based on, either as a filter (`update ... where id = $1 and revision = $2`, PostgREST
-- `.eq("revision", n)`: a stale save updates 0 rows) or in the row it sends (`set revision = n`:
-- a stale one is refused with CD412). Either way the second save never overwrites the first.
--
-- Error codes (CD + the HTTP status it means, as CD402 and CD409 before):
--   CD423  locked: the content of a published or archived version, a version going back to
--          draft, or a row's lineage or version number, cannot change;
--   CD412  precondition failed: the draft changed since the caller loaded it.
--
-- Which version assignments and tracks name: the lineage's live one. Publishing a version points
-- the lineage's assignments and track positions at it (attempts stay on theirs), and completion
-- counts an attempt on any version of the scenario, so work done on version 1 still counts for
-- an assignment that now names version 2.

-- Columns ---------------------------------------------------------------------------------------
alter table public.scenarios
  add column lineage_id uuid,
  add column version int not null default 1 check (version >= 1),
  add column revision int not null default 1 check (revision >= 1),
  add column time_limit_seconds int check (time_limit_seconds > 0);
-- Every scenario so far is the first version of its own lineage. (touch_row stamps the rows, so
-- every client pulls them again with their new columns.)
update public.scenarios set lineage_id = id;
alter table public.scenarios alter column lineage_id set not null;
alter table public.scenarios
  add constraint scenarios_lineage_id_version_key unique (lineage_id, version);
-- At most one live version and one draft per scenario; the triggers below say so in words first.
create unique index scenarios_one_published_per_lineage on public.scenarios (lineage_id)
  where status = 'published';
create unique index scenarios_one_draft_per_lineage on public.scenarios (lineage_id)
  where status = 'draft';

comment on column public.scenarios.lineage_id is
  'The scenario this row is a version of: the id of its first version (set by the server).';
comment on column public.scenarios.version is
  'Version number within the lineage, from 1 (set by the server: the lineage''s highest + 1).';
comment on column public.scenarios.revision is
  'Incremented by every update: a save based on an older revision is refused (CD412) or, '
  'filtered by revision, updates nothing.';
comment on column public.scenarios.time_limit_seconds is
  'How long a practice call may last, in seconds; NULL: no limit.';

-- Versions are immutable once live --------------------------------------------------------------
-- The columns a published or archived version keeps as they were.
create or replace function private.scenario_content_columns() returns text[]
language sql immutable
set search_path = ''
as $$
  select array['title', 'description', 'persona', 'difficulty', 'ai_prompt', 'branching',
               'rubric', 'pass_score', 'max_attempts', 'time_limit_seconds']
$$;

-- Insert: the server numbers versions (a new scenario is version 1 of its own lineage; a row
-- naming an existing lineage of its org is a new draft, numbered after the lineage's highest,
-- refused while the lineage has a draft). Update: the revision check, then what a live version
-- may still change (its status: published -> archived -> published; never back to draft).
-- SECURITY DEFINER so the lineage is judged on all its rows, whatever the caller's policies show.
create or replace function private.guard_scenario_version() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  latest int;
  draft record;
  changed text;
begin
  if tg_op = 'INSERT' then
    new.revision := 1;
    if new.lineage_id is null or new.lineage_id = new.id then
      new.lineage_id := new.id;
      new.version := 1;
      return new;
    end if;
    -- One new version of a lineage at a time: the second waits, then sees the first's draft.
    perform pg_advisory_xact_lock(hashtextextended('scenario lineage ' || new.lineage_id, 0));
    select max(s.version) into latest
    from public.scenarios s
    where s.lineage_id = new.lineage_id and s.org_id = new.org_id;
    if latest is null then
      raise exception 'scenario % does not exist in this org, so it cannot get a new version',
        new.lineage_id
        using errcode = 'foreign_key_violation',
              hint = 'Leave lineage_id out to create a new scenario.';
    end if;
    if new.status <> 'draft' then
      raise exception 'a new version of a scenario starts as a draft (not %)', new.status
        using errcode = 'check_violation',
              hint = 'Insert it as a draft, then publish it with publish_scenario().';
    end if;
    select s.id, s.version, s.title into draft
    from public.scenarios s
    where s.lineage_id = new.lineage_id and s.status = 'draft';
    if found then
      raise exception 'scenario "%" already has a draft (version %): edit that draft instead of starting another',
        draft.title, draft.version
        using errcode = 'unique_violation',
              detail = jsonb_build_object('draft_id', draft.id, 'version', draft.version)::text,
              hint = 'Open the existing draft, or delete it first.';
    end if;
    new.version := latest + 1;
    return new;
  end if;

  if new.revision is distinct from old.revision then
    raise exception 'scenario "%" was saved by someone else since you loaded it (it is at revision %, your change is based on revision %)',
      old.title, old.revision, new.revision
      using errcode = 'CD412',
            detail = jsonb_build_object('scenario_id', old.id, 'revision', old.revision,
                                        'based_on', new.revision)::text,
            hint = 'Reload the scenario and make your change again.';
  end if;
  new.revision := old.revision + 1;
  if new.lineage_id is distinct from old.lineage_id or new.version is distinct from old.version then
    raise exception 'a scenario''s lineage and version number never change'
      using errcode = 'CD423';
  end if;
  if old.status = 'draft' then
    return new;
  end if;
  if new.status = 'draft' then
    raise exception 'scenario "%" version % is %, so it cannot go back to draft',
      old.title, old.version, old.status
      using errcode = 'CD423',
            hint = 'Create a new version with new_scenario_version() and edit that.';
  end if;
  select string_agg(c.name, ', ' order by c.ord) into changed
  from unnest(private.scenario_content_columns()) with ordinality as c (name, ord)
  where to_jsonb(new) -> c.name is distinct from to_jsonb(old) -> c.name;
  if changed is not null then
    raise exception 'scenario "%" version % is % and cannot be changed (changed: %)',
      old.title, old.version, old.status, changed
      using errcode = 'CD423',
            detail = jsonb_build_object('scenario_id', old.id, 'version', old.version,
                                        'status', old.status)::text,
            hint = 'Create a new version with new_scenario_version(); publishing it replaces this one.';
  end if;
  return new;
end
$$;
revoke execute on function private.guard_scenario_version() from public, anon, authenticated;
revoke execute on function private.scenario_content_columns() from public, anon;
grant execute on function private.scenario_content_columns() to authenticated, service_role;

-- Fires after check_documents and enforce_active_scenarios, before stamp_actor and touch
-- (BEFORE triggers run in name order).
create trigger guard_version before insert or update on public.scenarios
  for each row execute function private.guard_scenario_version();

-- Publishing supersedes ---------------------------------------------------------------------------
-- A version going live (by publish_scenario or any other update of its status) archives the
-- lineage's live version in the same statement, and the lineage's assignments and track
-- positions move to it. The archived version writes its own scenario.archived audit event;
-- the moves are no admin action of their own (the publication is the event).
create or replace function private.supersede_scenario_versions() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('scenario lineage ' || new.lineage_id, 0));
  update public.scenarios s set status = 'archived'
  where s.lineage_id = new.lineage_id and s.org_id = new.org_id and s.status = 'published'
    and s.id <> new.id;
  update public.assignments a set scenario_id = new.id
  where a.org_id = new.org_id
    and a.scenario_id in (select s.id from public.scenarios s
                          where s.lineage_id = new.lineage_id and s.id <> new.id);
  -- A track that already lists this version keeps it where it is.
  update public.track_scenarios ts set scenario_id = new.id
  where ts.org_id = new.org_id
    and ts.scenario_id in (select s.id from public.scenarios s
                           where s.lineage_id = new.lineage_id and s.id <> new.id)
    and not exists (select 1 from public.track_scenarios o
                    where o.track_id = ts.track_id and o.scenario_id = new.id);
  return new;
end
$$;
revoke execute on function private.supersede_scenario_versions() from public, anon, authenticated;

create trigger supersede_versions before update of status on public.scenarios
  for each row when (new.status = 'published' and old.status is distinct from 'published')
  execute function private.supersede_scenario_versions();

-- The active-scenario limit counts scenarios, not versions --------------------------------------
-- As in 20261125001300_billing_and_entitlements.sql, counting lineages: publishing a new version
-- of a live scenario takes no slot (it replaces the one it supersedes, which the supersede
-- trigger archives after this check).
create or replace function private.enforce_active_scenarios() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  lim bigint;
  in_use bigint;
  -- On insert this runs before guard_version fills lineage_id in (a new row is its own).
  lineage uuid := coalesce(new.lineage_id, new.id);
begin
  if new.status <> 'published'
     or (tg_op = 'UPDATE' and old.status = 'published' and new.org_id = old.org_id) then
    return new;
  end if;
  lim := private.entitlement_limit(new.org_id, 'active_scenarios');
  if lim is null then
    return new;
  end if;
  -- Replacing the live version of a scenario adds no live scenario, even over a lowered limit
  -- (as a lowered seat count keeps everyone).
  if exists (select 1 from public.scenarios s
             where s.lineage_id = lineage and s.status = 'published' and s.id <> new.id) then
    return new;
  end if;
  select count(distinct s.lineage_id) into in_use
  from public.scenarios s
  where s.org_id = new.org_id and s.status = 'published' and s.lineage_id <> lineage;
  if in_use >= lim then
    perform private.raise_entitlement_exceeded(new.org_id, 'active_scenarios', lim, in_use,
      'active scenario', 'Archive a published scenario or upgrade the plan to publish more.');
  end if;
  return new;
end
$$;
revoke execute on function private.enforce_active_scenarios() from public, anon, authenticated;

-- Completion counts the scenario, not the version -------------------------------------------------
-- As in 20261125001300_billing_and_entitlements.sql, matching attempts by lineage: an
-- assignment moved to version 2 is done for whoever passed version 1 under it, and
-- assignment.completed / track.completed still fire once.
create or replace function private.passed_before(org uuid, user_id uuid, scenario uuid,
  assignment uuid, threshold numeric, except_attempt uuid)
returns boolean
language sql stable
set search_path = ''
as $$
  select exists (
    select 1
    from public.scenario_attempts a
    join public.scenarios s on s.id = a.scenario_id
    join public.scenarios target on target.id = scenario and target.lineage_id = s.lineage_id
    where a.org_id = org and a.user_id = passed_before.user_id
      and a.id <> except_attempt and a.status = 'scored'
      and (assignment is null or a.assignment_id = assignment)
      and a.score >= coalesce(threshold, s.pass_score)
  )
$$;

create or replace function private.track_scenarios_left(org uuid, track uuid, user_id uuid,
  assignment uuid, threshold numeric, done_scenario uuid)
returns bigint
language sql stable
set search_path = ''
as $$
  select count(*)
  from public.track_scenarios ts
  join public.scenarios s on s.id = ts.scenario_id
  where ts.org_id = org and ts.track_id = track
    and s.lineage_id is distinct from (select d.lineage_id from public.scenarios d
                                       where d.id = done_scenario)
    and not exists (
      select 1 from public.scenario_attempts a
      join public.scenarios v on v.id = a.scenario_id
      where a.org_id = org and a.user_id = track_scenarios_left.user_id
        and v.lineage_id = s.lineage_id and a.status = 'scored'
        and (assignment is null or a.assignment_id = assignment)
        and a.score >= coalesce(threshold, v.pass_score)
    )
$$;
revoke execute on function
  private.passed_before(uuid, uuid, uuid, uuid, numeric, uuid),
  private.track_scenarios_left(uuid, uuid, uuid, uuid, numeric, uuid)
  from public, anon, authenticated;

-- The admin's functions ---------------------------------------------------------------------------
-- SECURITY INVOKER: the caller's policies and the triggers above do the work; the checks here
-- turn a trainee's, a manager's or another org's call into a refusal that says so (42501)
-- instead of "nothing happened".
create or replace function private.may_author_scenario(org uuid) returns boolean
language sql stable
set search_path = ''
as $$
  -- The service role, or the server's own session (no claims) as score_attempt allows it.
  select coalesce(auth.role() = 'service_role', false)
      or (auth.jwt() is null
          and coalesce((select r.rolsuper from pg_catalog.pg_roles r
                        where r.rolname = session_user), false))
      or (org = private.current_org_id() and private.has_org_role('admin'))
$$;
revoke execute on function private.may_author_scenario(uuid) from public, anon;
grant execute on function private.may_author_scenario(uuid) to authenticated, service_role;

-- A draft copy of a published or archived version, as the lineage's next version; its id.
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
                                time_limit_seconds, status)
  values (source.org_id, source.lineage_id, source.title, source.description, source.persona,
          source.difficulty, source.ai_prompt, source.branching, source.rubric,
          source.pass_score, source.max_attempts, source.time_limit_seconds, 'draft')
  returning id into fresh;
  return fresh;
end
$$;
comment on function public.new_scenario_version(uuid) is
  'A new draft version of a published or archived scenario (a copy, version max + 1); its id. '
  'Admins only; refused while the scenario has a draft.';

-- Publish a draft (or bring an archived version back): the lineage's live version is archived
-- in the same transaction, and the plan's active-scenario limit applies (CD402). With
-- `expected_revision`, only the revision the caller reviewed is published (CD412 otherwise).
-- Publishing the live version again changes nothing.
create or replace function public.publish_scenario(scenario_id uuid,
  expected_revision int default null)
returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  target record;
begin
  select s.id, s.org_id, s.title, s.status, s.revision into target
  from public.scenarios s where s.id = publish_scenario.scenario_id;
  if not found or not private.may_author_scenario(target.org_id) then
    raise exception 'scenario % not found or not visible to you', publish_scenario.scenario_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the scenario''s org publish it.';
  end if;
  if expected_revision is not null and expected_revision <> target.revision then
    raise exception 'scenario "%" was saved by someone else since you loaded it (it is at revision %, you reviewed revision %)',
      target.title, target.revision, expected_revision
      using errcode = 'CD412',
            detail = jsonb_build_object('scenario_id', target.id, 'revision', target.revision,
                                        'based_on', expected_revision)::text,
            hint = 'Reload the scenario, check it, and publish again.';
  end if;
  if target.status = 'published' then
    return;
  end if;
  update public.scenarios s set status = 'published' where s.id = target.id;
end
$$;
comment on function public.publish_scenario(uuid, int) is
  'Publish a draft or archived scenario version; the version that was live is archived in the '
  'same transaction. Admins only; the plan''s active-scenario limit applies (CD402).';

revoke execute on function public.new_scenario_version(uuid),
  public.publish_scenario(uuid, int) from public, anon;
grant execute on function public.new_scenario_version(uuid),
  public.publish_scenario(uuid, int) to authenticated, service_role;
