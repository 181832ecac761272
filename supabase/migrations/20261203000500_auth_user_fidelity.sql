-- Code that touches auth.users does what hosted Supabase's schema demands, not what a kinder
-- local copy allowed (supabase/compat/hosted_schema.toml records the real columns):
--   * auth.users has no defaults for id, aud, role or instance_id, and its metadata columns are
--     nullable: private.clerk_upsert_user (as 20261203000410 left it: links only confirmed
--     accounts) creates a user with every column the auth server fills (a nil instance_id, aud
--     and role 'authenticated', empty token strings), and `metadata || jsonb` starts from '{}'
--     where a user has none (NULL || jsonb is NULL: the update would wipe the metadata).
--   * private.invalid raises, so it is volatile: as immutable, a call with constant arguments
--     was folded (run) when a validator was planned, which plpgsql_check (`supabase db lint`)
--     reported as an error in every JSON validator.
-- Same signatures, so the grants of earlier migrations stay.

create or replace function private.invalid(what text, message text) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  raise exception '% is invalid: %', what, message
    using errcode = 'check_violation', hint = 'See docs/scenario-format.md and resources/schemas/.';
end
$$;

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
        raw_user_meta_data = coalesce(u.raw_user_meta_data, '{}'::jsonb)
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
    select u.id, u.email_confirmed_at into uid, confirmed from auth.users u
    where u.email = address and not u.is_sso_user;
    if uid is not null and confirmed is null then
      raise exception 'not linking Clerk user %: the account with this email is not confirmed',
        clerk_upsert_user.clerk_user_id
        using errcode = 'CD409', detail = 'user_id=' || uid::text,
              hint = 'The account''s owner confirms the address (or it is removed); '
                     'the provider''s retry then links it.';
    end if;
  end if;
  if uid is null then
    -- The columns the auth server writes for a new user (there are no defaults for them); its
    -- token columns are read back as strings, so they are '' (never NULL).
    insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at,
                            confirmation_token, recovery_token, email_change_token_new,
                            email_change, raw_app_meta_data, raw_user_meta_data,
                            created_at, updated_at)
    values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated',
            'authenticated', address, case when email_verified then now() end, '', '', '', '',
            '{"provider": "clerk", "providers": ["clerk"]}'::jsonb,
            jsonb_build_object('full_name', coalesce(full_name, ''),
                               'clerk_user_id', clerk_upsert_user.clerk_user_id),
            now(), now())
    returning id into uid;
  end if;
  insert into private.clerk_users (clerk_user_id, user_id, source_updated_at)
  values (clerk_upsert_user.clerk_user_id, uid, coalesce(updated_ms, 0));
  return uid;
end
$$;
