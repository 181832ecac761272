-- Timestamps and "who did it" columns are the server's: set on insert, never changed by an
-- update, whatever a client sends. Before this, touch_row kept a client's created_at on insert
-- (an attempt could claim to be older than it is; a membership could claim to be the oldest),
-- and created_by / assigned_by / requested_by took any user id a client named.
--
-- The columns: created_at, updated_at and sync_xid (touch_row), and every column naming who
-- did something (stamp_actor). tests/db/test_server_stamps.py enumerates every table in public
-- from the catalog and proves it for each one an API role can write.

create or replace function private.touch_row() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    new.created_at := old.created_at;
  else
    new.created_at := now();
  end if;
  new.updated_at := now();
  new.sync_xid := pg_current_xact_id()::text::bigint;
  return new;
end
$$;

-- The columns named in the trigger's arguments hold a user id: the caller's on insert (when
-- the request has one; the service role and server jobs name it themselves), and on update
-- the old value. The one change allowed is to NULL once the user named is gone: that is the
-- foreign key's ON DELETE SET NULL (SECURITY DEFINER to look in auth.users).
create or replace function private.stamp_actor() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  actor uuid := auth.uid();
  col text;
  new_doc jsonb := to_jsonb(new);
  old_doc jsonb := case when tg_op = 'UPDATE' then to_jsonb(old) end;
  fixed jsonb := '{}'::jsonb;
begin
  foreach col in array tg_argv loop
    if tg_op = 'INSERT' then
      if actor is not null then
        fixed := fixed || jsonb_build_object(col, actor);
      end if;
    elsif (new_doc -> col) is distinct from (old_doc -> col)
          and not (new_doc ->> col is null
                   and not exists (select 1 from auth.users u
                                   where u.id = private.try_uuid(old_doc ->> col))) then
      fixed := fixed || jsonb_build_object(col, old_doc -> col);
    end if;
  end loop;
  if fixed <> '{}'::jsonb then
    new := jsonb_populate_record(new, fixed);
  end if;
  return new;
end
$$;
revoke execute on function private.stamp_actor() from public, anon, authenticated;

create trigger stamp_actor before insert or update on public.scenarios
  for each row execute function private.stamp_actor('created_by');
create trigger stamp_actor before insert or update on public.tracks
  for each row execute function private.stamp_actor('created_by');
create trigger stamp_actor before insert or update on public.assignments
  for each row execute function private.stamp_actor('assigned_by');
create trigger stamp_actor before insert or update on public.webhooks
  for each row execute function private.stamp_actor('created_by');
create trigger stamp_actor before insert or update on public.export_requests
  for each row execute function private.stamp_actor('requested_by');
-- accepted_by and revoked_by are written by accept_invitation and check_invitation only.
create trigger stamp_actor before insert or update on public.org_invitations
  for each row execute function private.stamp_actor('invited_by');
