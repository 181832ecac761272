-- A track's Save is one transaction (issue 19, item 7): the editor sent the title and
-- description as an update, then the order through set_track_scenarios(), so an order the
-- database refused (a draft in a published track: CD409) left the new title saved. save_track()
-- does both in one call: either all of it is saved or none of it.
--
-- SECURITY INVOKER: the title and description go through the tracks update policy (admins of
-- the track's org) exactly as a direct update does; the order through set_track_scenarios(),
-- which checks its own rights. A track that is not there, or not the caller's to change, is
-- refused alike (42501), as set_track_scenarios() refuses it.
create or replace function public.save_track(
  track_id uuid, title text, description text, scenario_ids uuid[]
) returns void
language plpgsql volatile security invoker
set search_path = ''
as $$
begin
  update public.tracks t
  set title = save_track.title, description = coalesce(save_track.description, '')
  where t.id = save_track.track_id;
  if not found then
    raise exception 'track % not found or not visible to you', save_track.track_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the track''s org change it.';
  end if;
  perform public.set_track_scenarios(save_track.track_id, save_track.scenario_ids);
end
$$;
comment on function public.save_track(uuid, text, text, uuid[]) is
  'Saves a track''s title, description and ordered scenarios in one transaction. Org admins only (RLS and set_track_scenarios).';

revoke execute on function public.save_track(uuid, text, text, uuid[]) from public, anon;
grant execute on function public.save_track(uuid, text, text, uuid[]) to authenticated, service_role;
