-- Shared building blocks for every later migration: the `private` schema (never exposed through
-- the API), the row-stamping trigger and safe casts.

create schema if not exists private;
-- API roles may call the helpers policies use; they cannot see or create anything else here.
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role, supabase_auth_admin;
alter default privileges in schema private revoke execute on functions from public;

-- Every synced row carries the id of the transaction that last wrote it. Pull cursors and the
-- incremental reporting load compare against pg_snapshot_xmin(), which a late-committing
-- transaction can never fall behind, unlike `updated_at` (a transaction's start time).
create or replace function private.touch_row() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    new.created_at := old.created_at;
  end if;
  new.updated_at := now();
  new.sync_xid := pg_current_xact_id()::text::bigint;
  return new;
end
$$;

-- The oldest transaction still running: everything below it has committed or aborted.
create or replace function public.sync_watermark() returns bigint
language sql stable
set search_path = ''
as $$
  select pg_snapshot_xmin(pg_current_snapshot())::text::bigint
$$;
comment on function public.sync_watermark() is
  'Highest sync_xid a pull may advance its cursor to without missing a late commit.';
revoke execute on function public.sync_watermark() from public, anon;
grant execute on function public.sync_watermark() to authenticated, service_role;

-- A claim that is not a uuid is treated as absent rather than aborting the request.
create or replace function private.try_uuid(value text) returns uuid
language sql immutable
set search_path = ''
as $$
  select case
    when value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then value::uuid
  end
$$;
grant execute on function private.try_uuid(text) to authenticated, service_role, supabase_auth_admin;

-- Raised by every JSON validator so clients get one error class with a precise message.
create or replace function private.invalid(what text, message text) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  raise exception '% is invalid: %', what, message
    using errcode = 'check_violation', hint = 'See docs/scenario-format.md and resources/schemas/.';
end
$$;
