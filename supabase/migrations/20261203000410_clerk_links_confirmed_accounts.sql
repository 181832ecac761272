-- A Clerk user is linked to an existing account only when both sides have proven the address:
-- Clerk verified it, and our account confirmed it (email_confirmed_at). Before, Clerk's
-- verification alone linked to any account with that email, including one someone had merely
-- signed up with (an unconfirmed sign-up proves nothing), so whoever signed up first with a
-- victim's address received the victim's Clerk identity, orgs and recordings.
--
-- A verified Clerk address that an unconfirmed account holds is refused with SQLSTATE CD409:
-- the receiver answers 409 unconfirmed_account and logs it; nothing is linked or written, and
-- Svix's retries apply the event once the account is confirmed (or removed). An unverified
-- Clerk address still never links (the unique email refuses it: 409 conflict).
--
-- Updates follow the same rule: a mapped user takes Clerk's new address only when Clerk has
-- verified it, and is then confirmed for it; an unverified new address leaves ours unchanged.
-- Same signature, so the grants of 20261125001300 stay.
create or replace function private.clerk_upsert_user(clerk_user_id text, email text,
  email_verified boolean, full_name text, updated_ms bigint)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  mapped private.clerk_users;
  address text := lower(clerk_upsert_user.email);
  uid uuid;
  confirmed timestamptz;
begin
  select c.* into mapped from private.clerk_users c
  where c.clerk_user_id = clerk_upsert_user.clerk_user_id
  for update;
  if found then
    if mapped.source_updated_at > updated_ms then
      return mapped.user_id;
    end if;
    update auth.users u
    set email = case when email_verified and address is not null then address else u.email end,
        email_confirmed_at = case
          when email_verified and address is not null and address is distinct from u.email
            then now()
          when email_verified and address is not null then coalesce(u.email_confirmed_at, now())
          else u.email_confirmed_at
        end,
        raw_user_meta_data = u.raw_user_meta_data
          || jsonb_build_object('full_name', coalesce(full_name, ''),
                                'clerk_user_id', clerk_upsert_user.clerk_user_id),
        updated_at = now()
    where u.id = mapped.user_id;
    update private.clerk_users c set source_updated_at = updated_ms
    where c.clerk_user_id = clerk_upsert_user.clerk_user_id;
    return mapped.user_id;
  end if;

  if email_verified and address is not null then
    -- Emails are stored lower-case (as GoTrue stores them), so the unique index serves this.
    select u.id, u.email_confirmed_at into uid, confirmed from auth.users u where u.email = address;
    if uid is not null and confirmed is null then
      raise exception 'not linking Clerk user %: the account with this email is not confirmed',
        clerk_upsert_user.clerk_user_id
        using errcode = 'CD409', detail = 'user_id=' || uid::text,
              hint = 'The account''s owner confirms the address (or it is removed); '
                     'the provider''s retry then links it.';
    end if;
  end if;
  if uid is null then
    insert into auth.users (email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
    values (address, case when email_verified then now() end,
            '{"provider": "clerk", "providers": ["clerk"]}'::jsonb,
            jsonb_build_object('full_name', coalesce(full_name, ''),
                               'clerk_user_id', clerk_upsert_user.clerk_user_id))
    returning id into uid;
  end if;
  insert into private.clerk_users (clerk_user_id, user_id, source_updated_at)
  values (clerk_upsert_user.clerk_user_id, uid, coalesce(updated_ms, 0));
  return uid;
end
$$;
