-- Membership by consent: nobody becomes a member of an org without accepting an invitation
-- (or being added by the service role, e.g. a billing or identity receiver), and the org a
-- user's token is issued for never changes without their action.
--
-- Before this, an admin could insert an org_members row for any user id with a created_at of
-- their choosing, and the token hook's "oldest membership" default moved that user into the
-- admin's org at their next refresh (docs/security.md, "Membership by consent").

-- org_members: no direct insert by clients; an admin changes only a member's role and name ------
drop policy org_members_insert_admin on public.org_members;
revoke insert, update on public.org_members from authenticated;
-- Moving a row to another user (update of user_id) would be an insert by another name.
grant update (role, display_name) on public.org_members to authenticated;

-- Invitations --------------------------------------------------------------------------------
create table public.org_invitations (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  -- Normalised (trimmed, lower case) by private.check_invitation; matched against the
  -- invitee's confirmed auth email.
  email text not null check (length(email) between 3 and 320 and email ~ '^[^@\s]+@[^@\s]+$'),
  role public.org_role not null default 'trainee',
  -- Teams of the org the new member joins on accepting (checked on insert).
  team_ids uuid[] not null default '{}',
  -- SHA-256 (hex) of the token mailed to the invitee; the token itself is never stored.
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  expires_at timestamptz not null default now() + interval '7 days',
  invited_by uuid references auth.users (id) on delete set null default auth.uid(),
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  revoked_at timestamptz,
  revoked_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  constraint org_invitations_one_outcome check (accepted_at is null or revoked_at is null)
);
comment on table public.org_invitations is
  'An invitation to join an org with a role and teams; membership comes only from accepting one.';
create index org_invitations_org_id_idx on public.org_invitations (org_id);
create index org_invitations_email_idx on public.org_invitations (email);
create index org_invitations_invited_by_idx on public.org_invitations (invited_by);
create index org_invitations_accepted_by_idx on public.org_invitations (accepted_by);
create index org_invitations_revoked_by_idx on public.org_invitations (revoked_by);
-- One open invitation per address and org: inviting again replaces it (invite_member).
create unique index org_invitations_open_idx on public.org_invitations (org_id, email)
  where accepted_at is null and revoked_at is null;

-- The caller's email address, only once Auth has confirmed it (the proof they own the inbox).
create or replace function private.my_confirmed_email() returns text
language sql stable security definer
set search_path = ''
as $$
  select lower(u.email)
  from auth.users u
  where u.id = auth.uid() and u.email_confirmed_at is not null
$$;
revoke execute on function private.my_confirmed_email() from public, anon;
grant execute on function private.my_confirmed_email() to authenticated, service_role;

-- Normalises the address, checks the teams belong to the org, and keeps the outcome columns
-- the server's: revoked once (at the server's time, by the caller), never reopened, nothing
-- else changed after insert. Clients hold no grant on accepted_at: only accept_invitation.
create or replace function private.check_invitation() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.email := lower(btrim(new.email));
    new.team_ids := coalesce(new.team_ids, '{}');
    if exists (
      select 1 from unnest(new.team_ids) as t (id)
      where not exists (select 1 from public.teams tm where tm.id = t.id and tm.org_id = new.org_id)
    ) then
      raise exception 'an invitation may name only teams of its own org'
        using errcode = 'foreign_key_violation';
    end if;
    if new.expires_at <= now() then
      raise exception 'an invitation must expire in the future' using errcode = 'check_violation';
    end if;
    new.accepted_at := null;
    new.accepted_by := null;
    new.revoked_at := null;
    new.revoked_by := null;
    return new;
  end if;
  if (new.id, new.org_id, new.email, new.role, new.team_ids, new.token_hash, new.expires_at)
     is distinct from
     (old.id, old.org_id, old.email, old.role, old.team_ids, old.token_hash, old.expires_at) then
    raise exception 'an invitation cannot be changed; revoke it and invite again'
      using errcode = 'insufficient_privilege';
  end if;
  if old.accepted_at is not null or old.revoked_at is not null then
    if (new.accepted_at, new.revoked_at) is distinct from (old.accepted_at, old.revoked_at) then
      raise exception 'invitation % is already %', old.id,
        case when old.accepted_at is not null then 'accepted' else 'revoked' end
        using errcode = 'invalid_parameter_value';
    end if;
    new.accepted_by := old.accepted_by;
    new.revoked_by := old.revoked_by;
    return new;
  end if;
  if new.revoked_at is not null then
    new.revoked_at := now();
    new.revoked_by := auth.uid();
  end if;
  return new;
end
$$;
revoke execute on function private.check_invitation() from public, anon, authenticated;

create trigger check_invitation before insert or update on public.org_invitations
  for each row execute function private.check_invitation();
create trigger touch before insert or update on public.org_invitations
  for each row execute function private.touch_row();

alter table public.org_invitations enable row level security;
revoke all on public.org_invitations from anon, authenticated;
grant select on public.org_invitations to authenticated;
grant insert (org_id, email, role, team_ids, token_hash, expires_at)
  on public.org_invitations to authenticated;
grant update (revoked_at) on public.org_invitations to authenticated;
grant select, insert, update, delete on public.org_invitations to service_role;

-- Admins see and manage their org's invitations.
create policy org_invitations_select_admin on public.org_invitations for select to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy org_invitations_insert_admin on public.org_invitations for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy org_invitations_update_admin on public.org_invitations for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
-- The invitee sees invitations to their confirmed address, whatever org their token is for.
create policy org_invitations_select_invitee on public.org_invitations for select to authenticated
  using (email = (select private.my_confirmed_email()));

-- invite_member: the admin's call. Returns the token once (for the mail link); an open
-- invitation to the same address is replaced. SECURITY INVOKER: the policies above decide.
create or replace function public.invite_member(
  email text,
  role public.org_role default 'trainee',
  team_ids uuid[] default '{}',
  valid_for interval default '7 days'
) returns table (invitation_id uuid, token text, expires_at timestamptz)
language plpgsql volatile
set search_path = ''
as $$
declare
  org uuid := private.current_org_id();
  secret text := encode(extensions.gen_random_bytes(32), 'hex');
begin
  if not private.has_org_role('admin') then
    raise exception 'only an admin of the org invites members' using errcode = 'insufficient_privilege';
  end if;
  if valid_for < interval '1 hour' or valid_for > interval '30 days' then
    raise exception 'an invitation is valid for 1 hour to 30 days, not %', valid_for
      using errcode = 'invalid_parameter_value';
  end if;
  update public.org_invitations i set revoked_at = now()
  where i.org_id = org and i.email = lower(btrim(invite_member.email))
    and i.accepted_at is null and i.revoked_at is null;
  insert into public.org_invitations as i (org_id, email, role, team_ids, token_hash, expires_at)
  values (org, invite_member.email, invite_member.role, coalesce(invite_member.team_ids, '{}'),
          encode(extensions.digest(secret, 'sha256'), 'hex'), now() + valid_for)
  returning i.id, i.expires_at into invitation_id, expires_at;
  token := secret;
  return next;
end
$$;
comment on function public.invite_member(text, public.org_role, uuid[], interval) is
  'Invites an address to the current org (admins only); returns the token for the mail link once.';

create or replace function public.revoke_invitation(invitation_id uuid) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  update public.org_invitations i set revoked_at = now()
  where i.id = revoke_invitation.invitation_id and i.accepted_at is null and i.revoked_at is null;
  if not found then
    raise exception 'no open invitation % in your org', invitation_id
      using errcode = 'insufficient_privilege';
  end if;
end
$$;

-- accept_invitation: the invitee's consent. SECURITY DEFINER because the invitee is not a
-- member of the org yet; it checks everything itself: a signed-in caller whose confirmed email
-- is the invited one, an invitation neither accepted, revoked nor expired. It adds the
-- membership and the teams, and never changes which org the caller's tokens are for.
create or replace function public.accept_invitation(invitation_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  my_email text := private.my_confirmed_email();
  inv public.org_invitations;
begin
  if me is null then
    raise exception 'sign in to accept an invitation' using errcode = 'insufficient_privilege';
  end if;
  if my_email is null then
    raise exception 'confirm your email address before accepting an invitation'
      using errcode = 'insufficient_privilege';
  end if;
  select * into inv from public.org_invitations i where i.id = accept_invitation.invitation_id
  for update;
  -- Absent and addressed to someone else look the same: nothing leaks about other orgs.
  if not found or inv.email <> my_email then
    raise exception 'no invitation % for %', invitation_id, my_email
      using errcode = 'insufficient_privilege';
  end if;
  if inv.revoked_at is not null then
    raise exception 'invitation % was revoked', inv.id using errcode = 'invalid_parameter_value';
  end if;
  if inv.accepted_at is not null then
    raise exception 'invitation % was already accepted', inv.id
      using errcode = 'invalid_parameter_value';
  end if;
  if inv.expires_at <= now() then
    raise exception 'invitation % expired at %', inv.id, inv.expires_at
      using errcode = 'invalid_parameter_value', hint = 'Ask an admin of the org to invite you again.';
  end if;
  if exists (select 1 from public.org_members m where m.org_id = inv.org_id and m.user_id = me) then
    raise exception 'you are already a member of this org' using errcode = 'unique_violation';
  end if;

  insert into public.org_members (org_id, user_id, role, display_name)
  select inv.org_id, me, inv.role, left(coalesce(u.raw_user_meta_data ->> 'full_name', ''), 200)
  from auth.users u where u.id = me;
  insert into public.team_members (org_id, team_id, user_id)
  select inv.org_id, t.id, me
  from public.teams t
  where t.org_id = inv.org_id and t.id = any (inv.team_ids);

  update public.org_invitations i set accepted_at = now(), accepted_by = me where i.id = inv.id;
  return inv.org_id;
end
$$;
comment on function public.accept_invitation(uuid) is
  'The invitee joins the org of an open invitation to their confirmed email; returns the org id.';

-- The mail link's form: the token identifies the invitation; the same checks apply.
create or replace function public.accept_invitation_token(token text) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  found_id uuid;
begin
  select i.id into found_id from public.org_invitations i
  where i.token_hash = encode(extensions.digest(coalesce(token, ''), 'sha256'), 'hex');
  if found_id is null then
    raise exception 'this invitation link is not valid' using errcode = 'insufficient_privilege';
  end if;
  return public.accept_invitation(found_id);
end
$$;

revoke execute on function public.invite_member(text, public.org_role, uuid[], interval),
  public.revoke_invitation(uuid), public.accept_invitation(uuid),
  public.accept_invitation_token(text) from public, anon;
grant execute on function public.invite_member(text, public.org_role, uuid[], interval),
  public.revoke_invitation(uuid), public.accept_invitation(uuid),
  public.accept_invitation_token(text) to authenticated;

-- The active org stays put ----------------------------------------------------------------------
-- A user with memberships but no recorded choice gets their oldest membership's org (the token
-- hook's default). Before another membership is added, that default is written down as their
-- choice, so a new membership can never become the org their next token is for: only
-- set_active_org (the user) changes it.
create or replace function private.keep_active_org() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  current_default uuid;
begin
  select m.org_id into current_default
  from public.org_members m
  where m.user_id = new.user_id
  order by m.created_at, m.org_id
  limit 1;
  if current_default is null then
    return new;  -- a first membership: the only org there is
  end if;
  update auth.users u
  set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb)
        || jsonb_build_object('active_org_id', current_default)
  where u.id = new.user_id
    and private.try_uuid(u.raw_app_meta_data ->> 'active_org_id') is null;
  return new;
end
$$;
revoke execute on function private.keep_active_org() from public, anon, authenticated;

create trigger keep_active_org before insert on public.org_members
  for each row execute function private.keep_active_org();

-- set_active_org: as before (members only), and safe on a user whose app metadata is NULL
-- (hosted Auth leaves the column nullable).
create or replace function public.set_active_org(org_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  perform public.set_org_claim(set_active_org.org_id);
  update auth.users u
  set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb)
        || jsonb_build_object('active_org_id', set_active_org.org_id)
  where u.id = auth.uid();
  return set_active_org.org_id;
end
$$;
