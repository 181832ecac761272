-- A track's scenarios and their order (issue 19, item 7: "Tracks: ordered scenarios (drag to
-- reorder), publish").
--
-- set_track_scenarios(track_id, scenario_ids) is the one way an admin changes which scenarios a
-- track lists and in what order: one call, one transaction, so the deferred unique
-- (track_id, position) is checked once on the final order, and one audit event
-- (track.scenarios_changed, the list before and after). API roles no longer write
-- track_scenarios rows directly (they still read them with the track).
--
-- A published track lists only published scenarios, on every path:
--   * publishing a track (or inserting one as published) that lists a draft or archived
--     scenario is refused;
--   * set_track_scenarios on a published track refuses a scenario that is not published;
--   * a scenario listed by a published track cannot stop being published (archive it from the
--     track first, or archive the track), checked at commit: publishing a scenario's new
--     version archives the old one and moves the track's position to the new one in the same
--     transaction, which is allowed.
-- Refusals are SQLSTATE CD409 (conflict with the content's state) and name the titles.

alter type public.audit_action add value if not exists 'track.scenarios_changed'
  after 'track.archived';

-- Only set_track_scenarios writes a track's positions (it runs as its owner).
revoke insert, update, delete on public.track_scenarios from authenticated;
drop policy track_scenarios_insert_admin on public.track_scenarios;
drop policy track_scenarios_update_admin on public.track_scenarios;
drop policy track_scenarios_delete_admin on public.track_scenarios;

-- The titles and states of the scenarios `track` lists that are not published, as one phrase
-- ('"Cold call" (draft), "Renewal" (archived)'); NULL when they all are.
create or replace function private.unpublished_in_track(track uuid) returns text
language sql stable
set search_path = ''
as $$
  select string_agg(format('"%s" (%s)', s.title, s.status), ', ' order by ts.position)
  from public.track_scenarios ts
  join public.scenarios s on s.id = ts.scenario_id
  where ts.track_id = track and s.status <> 'published'
$$;
revoke execute on function private.unpublished_in_track(uuid) from public, anon, authenticated;

create or replace function private.refuse_unpublished_in_track(track uuid) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  title text;
  unpublished text := private.unpublished_in_track(track);
begin
  if unpublished is null then
    return;
  end if;
  select t.title into title from public.tracks t where t.id = track;
  raise exception 'track "%" is published, so it can list only published scenarios; not published: %',
    title, unpublished
    using errcode = 'CD409',
          detail = jsonb_build_object('track_id', track)::text,
          hint = 'Publish those scenarios first, or remove them from the track.';
end
$$;
revoke execute on function private.refuse_unpublished_in_track(uuid)
  from public, anon, authenticated;

-- Publishing a track -------------------------------------------------------------------------
create or replace function private.check_track_published() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform private.refuse_unpublished_in_track(new.id);
  return null;
end
$$;
revoke execute on function private.check_track_published() from public, anon, authenticated;
create trigger check_published after insert or update of status on public.tracks
  for each row when (new.status = 'published')
  execute function private.check_track_published();

-- Positions written by the server's own paths (the seed, the service role, supersede) --------
-- At commit: superseding moves a position to a version that goes live in the same statement.
create or replace function private.check_track_position() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.tracks t where t.id = new.track_id and t.status = 'published')
  then
    perform private.refuse_unpublished_in_track(new.track_id);
  end if;
  return null;
end
$$;
revoke execute on function private.check_track_position() from public, anon, authenticated;
create constraint trigger check_published_track after insert or update of scenario_id
  on public.track_scenarios deferrable initially deferred
  for each row execute function private.check_track_position();

-- A scenario leaving published while a published track lists it ------------------------------
create or replace function private.check_scenario_in_tracks() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  scenario record;
  tracks text;
begin
  -- At commit: the row as it is now (a later statement may have moved the track on).
  select s.title, s.status into scenario from public.scenarios s where s.id = new.id;
  if not found or scenario.status = 'published' then
    return null;
  end if;
  select string_agg(format('"%s"', t.title), ', ' order by t.title) into tracks
  from public.track_scenarios ts
  join public.tracks t on t.id = ts.track_id
  where ts.scenario_id = new.id and t.status = 'published';
  if tracks is not null then
    raise exception 'scenario "%" is in the published track %, so it cannot be %',
      scenario.title, tracks, scenario.status
      using errcode = 'CD409',
            detail = jsonb_build_object('scenario_id', new.id)::text,
            hint = 'Remove it from the track first, or archive the track.';
  end if;
  return null;
end
$$;
revoke execute on function private.check_scenario_in_tracks() from public, anon, authenticated;
create constraint trigger check_published_tracks after update of status on public.scenarios
  deferrable initially deferred
  for each row when (old.status = 'published' and new.status <> 'published')
  execute function private.check_scenario_in_tracks();

-- The admin's function ---------------------------------------------------------------------------
-- SECURITY DEFINER (API roles hold no write on track_scenarios, and the audit log is written
-- only by the server): the checks below are the policy. Admins of the track's org only
-- (may_author_scenario: the org claim and the admin role, or the service role); every
-- scenario must be one of the track's org, each listed once. The track's updated_at and
-- updated_by are stamped (the track changed); an unchanged list changes nothing.
create or replace function public.set_track_scenarios(track_id uuid, scenario_ids uuid[])
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  track record;
  wanted uuid[] := coalesce(set_track_scenarios.scenario_ids, '{}');
  before_ids uuid[];
  odd uuid;
  unpublished text;
begin
  select t.id, t.org_id, t.title, t.status into track
  from public.tracks t where t.id = set_track_scenarios.track_id
  for update;
  if not found or not private.may_author_scenario(track.org_id) then
    raise exception 'track % not found or not visible to you', set_track_scenarios.track_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the track''s org change its scenarios.';
  end if;
  select u into odd from unnest(wanted) u group by u having count(*) > 1 limit 1;
  if found then
    raise exception 'a track lists each scenario once (% is listed twice)', odd
      using errcode = 'unique_violation';
  end if;
  select u into odd from unnest(wanted) u
  where u is null
     or not exists (select 1 from public.scenarios s where s.id = u and s.org_id = track.org_id)
  limit 1;
  if found then
    raise exception 'scenario % is not a scenario of this org', coalesce(odd::text, 'null')
      using errcode = 'insufficient_privilege',
            hint = 'A track lists only its own org''s scenarios.';
  end if;
  if track.status = 'published' then
    select string_agg(format('"%s" (%s)', s.title, s.status), ', ' order by u.ord)
    into unpublished
    from unnest(wanted) with ordinality u (id, ord)
    join public.scenarios s on s.id = u.id
    where s.status <> 'published';
    if unpublished is not null then
      raise exception 'track "%" is published, so it can list only published scenarios; not published: %',
        track.title, unpublished
        using errcode = 'CD409',
              detail = jsonb_build_object('track_id', track.id)::text,
              hint = 'Publish those scenarios first, or remove them from the track.';
    end if;
  end if;

  select coalesce(array_agg(ts.scenario_id order by ts.position), '{}') into before_ids
  from public.track_scenarios ts where ts.track_id = track.id;
  if before_ids = wanted then
    return;
  end if;
  delete from public.track_scenarios ts
  where ts.track_id = track.id and ts.scenario_id <> all (wanted);
  -- Positions may collide until the last row is written: the unique is deferred to commit.
  insert into public.track_scenarios (org_id, track_id, scenario_id, position)
  select track.org_id, track.id, u.id, u.ord
  from unnest(wanted) with ordinality u (id, ord)
  on conflict on constraint track_scenarios_track_id_scenario_id_key do update set position = excluded.position
    where public.track_scenarios.position is distinct from excluded.position;
  update public.tracks t set title = t.title where t.id = track.id;
  perform private.write_audit_event(track.org_id, 'track.scenarios_changed', 'tracks', track.id,
    jsonb_build_object('title', track.title,
                       'before', jsonb_build_object('scenario_ids', to_jsonb(before_ids)),
                       'after', jsonb_build_object('scenario_ids', to_jsonb(wanted))));
end
$$;
comment on function public.set_track_scenarios(uuid, uuid[]) is
  'The scenarios a track lists, in this order (positions 1..n), in one transaction. Admins of '
  'the track''s org only; a published track lists only published scenarios (CD409). Audited '
  'as track.scenarios_changed.';
revoke execute on function public.set_track_scenarios(uuid, uuid[]) from public, anon;
grant execute on function public.set_track_scenarios(uuid, uuid[])
  to authenticated, service_role;
