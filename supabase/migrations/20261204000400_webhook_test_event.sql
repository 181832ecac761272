-- "Send test event": an admin asks for one `webhook.test` delivery to one endpoint, to check
-- that the receiver gets, verifies and answers it, before real events depend on it.
--
-- `webhook.test` is no event an endpoint subscribes to (it is not in
-- private.webhook_event_types(), so neither a subscription list nor '*' names it, and no
-- trigger or enqueue_webhook() raises it): it reaches exactly the endpoint it was asked for,
-- whatever that endpoint subscribes to, as Svix's test events do. It then goes through the
-- same outbox as every delivery: signed, retried, dead-lettered and redeliverable alike.

alter table public.webhook_deliveries
  drop constraint webhook_deliveries_event_known,
  add constraint webhook_deliveries_event_known
    check (event = any (private.webhook_event_types()) or event = 'webhook.test');

-- One pending `webhook.test` delivery to `webhook_id`; returns its id. Admins of the endpoint's
-- org (and the service) only; an unknown id gets the same refusal as a foreign one (as
-- rotate_webhook_secret). SECURITY DEFINER: admins read deliveries but cannot write them.
create or replace function public.send_test_webhook(webhook_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  endpoint record;
  made uuid;
begin
  select w.id, w.org_id, w.enabled into endpoint
  from public.webhooks w
  where w.id = send_test_webhook.webhook_id;
  if not found
     or not (private.caller_is_service()
             or (endpoint.org_id = private.current_org_id() and private.has_org_role('admin'))) then
    raise exception 'webhook % not found or not visible to you', send_test_webhook.webhook_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the webhook''s org send it test events.';
  end if;
  if not endpoint.enabled then
    -- The dispatcher claims nothing for a disabled endpoint: the test would only wait.
    raise exception 'webhook % is disabled; enable it before sending a test event', endpoint.id
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  insert into public.webhook_deliveries (org_id, webhook_id, event, payload)
  values (endpoint.org_id, endpoint.id, 'webhook.test', jsonb_build_object(
    'type', 'webhook.test',
    'timestamp', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'data', jsonb_build_object('org_id', endpoint.org_id, 'webhook_id', endpoint.id,
                               'test', true)))
  returning id into made;
  return made;
end
$$;
comment on function public.send_test_webhook(uuid) is
  'Queues one webhook.test delivery to an endpoint, whatever it subscribes to; returns its id. Org admins and the service.';

revoke execute on function public.send_test_webhook(uuid) from public, anon, authenticated;
-- It checks the caller's org and role itself, as rotate_webhook_secret() does.
grant execute on function public.send_test_webhook(uuid) to authenticated, service_role;
