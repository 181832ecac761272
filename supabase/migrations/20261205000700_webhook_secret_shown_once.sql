-- A webhook's signing secret is shown once (when the endpoint is made, and at each rotation),
-- then only its receiver knows it: no API role reads it back. Before, org admins could SELECT
-- `secret` and `previous_secret` at any time, so a stolen admin session leaked every
-- endpoint's key; now it can only rotate them (which the audit log records and receivers see).
--
-- Column grants instead of a view: PostgREST, RLS and the existing policies stay as they are;
-- `select=*` on webhooks is refused for clients (as hosted PostgREST refuses any column a
-- role may not read), so clients name their columns.

revoke select on public.webhooks from authenticated;
grant select (id, org_id, url, description, events, enabled, disabled_reason, failure_since,
              previous_secret_expires_at, created_by, created_at, updated_at, sync_xid)
  on public.webhooks to authenticated;

-- The one way a client gets a new endpoint's secret: the insert and its secret in one call.
-- SECURITY DEFINER only to return the secret the caller may not SELECT; it checks the caller's
-- org and role itself, as rotate_webhook_secret() does, and the row goes through the same
-- constraints (no private targets, known events) and audit trigger as any insert.
create or replace function public.create_webhook(
  url text, events text[], description text default ''
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  org uuid := private.current_org_id();
  made record;
begin
  if org is null or not private.has_org_role('admin') then
    raise exception 'only admins of the current org create webhook endpoints'
      using errcode = 'insufficient_privilege',
            hint = 'Sign in as an admin of the org, with it as the active org.';
  end if;
  insert into public.webhooks (org_id, url, description, events)
  values (org, create_webhook.url, coalesce(create_webhook.description, ''), create_webhook.events)
  returning id, secret into made;
  return jsonb_build_object('id', made.id, 'secret', made.secret);
end
$$;
comment on function public.create_webhook(text, text[], text) is
  'Creates an enabled webhook endpoint in the caller''s org and returns {id, secret}: the only time a client sees the secret besides rotate_webhook_secret(). Org admins only.';

revoke execute on function public.create_webhook(text, text[], text) from public, anon, authenticated;
grant execute on function public.create_webhook(text, text[], text) to authenticated, service_role;
