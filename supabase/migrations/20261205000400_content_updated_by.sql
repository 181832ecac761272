-- Who last edited a scenario or a track (issue 19, item 1: the Studio's library shows "last
-- edited by" and when). updated_by is the server's, as created_by is
-- (20261203000320_server_stamped_columns.sql): every insert or update by a person stamps their
-- auth.uid(), whatever the client sent. The service role and jobs without a user name it
-- themselves on insert (else it is the author, created_by) and leave it as it was on update (a server job is nobody's edit). The one
-- other change allowed is the foreign key's ON DELETE SET NULL once the user named is gone.

alter table public.scenarios
  add column updated_by uuid references auth.users (id) on delete set null;
alter table public.tracks
  add column updated_by uuid references auth.users (id) on delete set null;
create index scenarios_updated_by_idx on public.scenarios (updated_by);
create index tracks_updated_by_idx on public.tracks (updated_by);
comment on column public.scenarios.updated_by is
  'Who last inserted or changed this row (set by the server from the request''s user).';
comment on column public.tracks.updated_by is
  'Who last inserted or changed this track or its scenarios (set by the server from the '
  'request''s user).';

-- Until now the last editor on record is the author. Only this column changes: the triggers
-- stay out of it (no new revision, no new updated_at; the desktop cache reads the tables again
-- when it gains the column).
alter table public.scenarios disable trigger user;
update public.scenarios set updated_by = created_by;
alter table public.scenarios enable trigger user;
alter table public.tracks disable trigger user;
update public.tracks set updated_by = created_by;
alter table public.tracks enable trigger user;

-- SECURITY DEFINER to look in auth.users (the ON DELETE SET NULL case).
create or replace function private.stamp_editor() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  actor uuid := auth.uid();
begin
  if tg_op = 'UPDATE' and new.updated_by is null and old.updated_by is not null
     and not exists (select 1 from auth.users u where u.id = old.updated_by) then
    return new;
  end if;
  if actor is not null then
    new.updated_by := actor;
  elsif tg_op = 'INSERT' then
    new.updated_by := coalesce(new.updated_by, new.created_by);
  else
    new.updated_by := old.updated_by;
  end if;
  return new;
end
$$;
revoke execute on function private.stamp_editor() from public, anon, authenticated;

create trigger stamp_editor before insert or update on public.scenarios
  for each row execute function private.stamp_editor();
create trigger stamp_editor before insert or update on public.tracks
  for each row execute function private.stamp_editor();
