-- An org always keeps an admin: an admin acting through the API can neither demote nor remove
-- the last one (themselves included), or nobody could invite, re-role or pay for the org again.
--
-- Only `authenticated` callers are held to it. The service role (identity and billing
-- receivers mirroring what Clerk or Stripe already decided) and server jobs are not, and rows
-- going with their org or their user (a cascade: the org or the auth user is already gone)
-- are no admin's decision either.
create or replace function private.keep_an_admin() returns trigger
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if old.role <> 'admin' or (tg_op = 'UPDATE' and new.role = 'admin')
     or auth.role() is distinct from 'authenticated' then
    return coalesce(new, old);
  end if;
  -- The org row's lock (as private.entitlement_limit takes it) serialises two admins demoting
  -- each other at once: the second sees the first's change and is refused.
  perform 1 from public.orgs o where o.id = old.org_id for no key update;
  if not found or not exists (select 1 from auth.users u where u.id = old.user_id) then
    return coalesce(new, old);
  end if;
  if not exists (select 1 from public.org_members m
                 where m.org_id = old.org_id and m.role = 'admin' and m.user_id <> old.user_id) then
    raise exception 'an org needs at least one admin: % is its last', coalesce(nullif(old.display_name, ''), old.user_id::text)
      using errcode = 'CD409',
            hint = 'Make another member an admin first.';
  end if;
  return coalesce(new, old);
end
$$;
revoke execute on function private.keep_an_admin() from public, anon, authenticated;

create trigger keep_an_admin before update of role or delete on public.org_members
  for each row execute function private.keep_an_admin();
