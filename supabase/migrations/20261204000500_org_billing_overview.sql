-- org_billing_status(): the Stripe subscription's state for the Organisation tab's plan box.
--
-- private.org_billing is written by the Stripe receiver (server/inbound) as the service role
-- and no API role may read it. An admin needs only whether the subscription is active, past
-- due or cancelled, and since when the server knows it: this answers those two fields for the
-- caller's current org, to its admins only (42501 for anyone else), and never the Stripe ids.
-- No row: Stripe has told the server nothing about this org (a free or hand-set plan).
-- SECURITY DEFINER because the table is private; the caller's org and role decide the row.
create or replace function public.org_billing_status()
returns table (
  subscription_status text,
  updated_at timestamptz
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('the org''s billing state', 'admin');
begin
  return query
  select b.subscription_status, b.last_event_at
  from private.org_billing b
  where b.org_id = org;
end
$$;
comment on function public.org_billing_status() is
  'The current org''s Stripe subscription status and when Stripe last told us (admins only).';
revoke execute on function public.org_billing_status() from public, anon;
grant execute on function public.org_billing_status() to authenticated;
