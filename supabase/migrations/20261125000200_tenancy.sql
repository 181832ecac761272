-- Tenancy: organisations, members with roles, teams; the org claim every policy relies on.

create type public.org_role as enum ('trainee', 'manager', 'admin', 'hr');
create type public.org_plan as enum ('free', 'team', 'business', 'enterprise');

create table public.orgs (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 200),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  plan public.org_plan not null default 'free',
  -- Limits the database enforces (seats, active_scenarios, retention_days); set by billing.
  entitlements jsonb not null default '{}'::jsonb check (jsonb_typeof(entitlements) = 'object'),
  stripe_customer_id text unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0
);
comment on table public.orgs is 'A customer organisation: plan, entitlements, Stripe customer.';

create table public.org_members (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.org_role not null default 'trainee',
  display_name text not null default '' check (length(display_name) <= 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (org_id, user_id)
);
comment on table public.org_members is 'Who belongs to which org, and as what role.';
create index org_members_user_id_idx on public.org_members (user_id);

create table public.teams (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (org_id, name),
  -- Lets child tables reference (team, org) so a row can never point into another org.
  unique (id, org_id)
);
create index teams_org_id_idx on public.teams (org_id);

create table public.team_members (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null,
  team_id uuid not null,
  user_id uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  unique (team_id, user_id),
  foreign key (team_id, org_id) references public.teams (id, org_id) on delete cascade,
  foreign key (org_id, user_id) references public.org_members (org_id, user_id) on delete cascade
);
create index team_members_team_id_org_id_idx on public.team_members (team_id, org_id);
create index team_members_org_id_user_id_idx on public.team_members (org_id, user_id);

create trigger touch before insert or update on public.orgs
  for each row execute function private.touch_row();
create trigger touch before insert or update on public.org_members
  for each row execute function private.touch_row();
create trigger touch before insert or update on public.teams
  for each row execute function private.touch_row();
create trigger touch before insert or update on public.team_members
  for each row execute function private.touch_row();

-- The org claim ------------------------------------------------------------------------------
-- The org a request acts in: `jwt.claims.org_id` (set by set_org_claim for server actions) or
-- the token's `org_id` claim, and only if auth.uid() is a member of it. A forged or stale claim
-- therefore yields NULL, and `org_id = NULL` matches no row. Every policy goes through here.
create or replace function private.current_org_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
  select m.org_id
  from public.org_members m
  where m.user_id = auth.uid()
    and m.org_id = coalesce(
      private.try_uuid(current_setting('jwt.claims.org_id', true)),
      private.try_uuid(auth.jwt() ->> 'org_id'))
$$;

-- The caller's role in the current org, read from the membership row, never from the token.
create or replace function private.current_org_role() returns public.org_role
language sql stable security definer
set search_path = ''
as $$
  select m.role
  from public.org_members m
  where m.user_id = auth.uid()
    and m.org_id = private.current_org_id()
$$;

create or replace function private.has_org_role(variadic roles public.org_role[]) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(private.current_org_role() = any (roles), false)
$$;

-- Teams of the caller in the current org (for team assignments).
create or replace function private.my_team_ids() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(tm.team_id), '{}')
  from public.team_members tm
  where tm.user_id = auth.uid()
    and tm.org_id = private.current_org_id()
$$;

grant execute on function private.current_org_id(), private.current_org_role(),
  private.has_org_role(public.org_role[]), private.my_team_ids()
  to authenticated, service_role;

-- set_org_claim: for server actions that act in one of the caller's orgs within a transaction.
create or replace function public.set_org_claim(org_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if not exists (
    select 1 from public.org_members m
    where m.org_id = set_org_claim.org_id and m.user_id = auth.uid()
  ) then
    raise exception 'not a member of org %', set_org_claim.org_id
      using errcode = 'insufficient_privilege';
  end if;
  perform set_config('jwt.claims.org_id', set_org_claim.org_id::text, true);
  return set_org_claim.org_id;
end
$$;
comment on function public.set_org_claim(uuid) is
  'Sets jwt.claims.org_id for this transaction; refuses orgs the caller is not a member of.';
revoke execute on function public.set_org_claim(uuid) from public, anon;
grant execute on function public.set_org_claim(uuid) to authenticated, service_role;

-- set_active_org: remembers which org the next token is issued for (claims change on refresh).
create or replace function public.set_active_org(org_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  perform public.set_org_claim(set_active_org.org_id);
  update auth.users u
  set raw_app_meta_data = u.raw_app_meta_data
        || jsonb_build_object('active_org_id', set_active_org.org_id)
  where u.id = auth.uid();
  return set_active_org.org_id;
end
$$;
comment on function public.set_active_org(uuid) is
  'Chooses the org the next access token carries; the client must refresh its session after.';
revoke execute on function public.set_active_org(uuid) from public, anon;
grant execute on function public.set_active_org(uuid) to authenticated;

-- Supabase custom access token hook: adds org_id and org_role; never touches `role`, which is
-- the Postgres role PostgREST switches to. Runs as supabase_auth_admin.
create or replace function public.custom_access_token_hook(event jsonb) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  claims jsonb := coalesce(event -> 'claims', '{}'::jsonb);
  wanted uuid := private.try_uuid(claims #>> '{app_metadata,active_org_id}');
  chosen record;
begin
  select m.org_id, m.role into chosen
  from public.org_members m
  where m.user_id = private.try_uuid(event ->> 'user_id')
  order by (m.org_id = wanted) desc nulls last, m.created_at, m.org_id
  limit 1;

  if found then
    claims := claims || jsonb_build_object('org_id', chosen.org_id, 'org_role', chosen.role);
  else
    claims := claims - 'org_id' - 'org_role';
  end if;
  return jsonb_set(event, '{claims}', claims);
end
$$;
revoke execute on function public.custom_access_token_hook(jsonb) from public, anon, authenticated;
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;
grant select on public.org_members to supabase_auth_admin;

-- Row level security ------------------------------------------------------------------------
alter table public.orgs enable row level security;
alter table public.org_members enable row level security;
alter table public.teams enable row level security;
alter table public.team_members enable row level security;

revoke all on public.orgs, public.org_members, public.teams, public.team_members from anon;
revoke all on public.orgs, public.org_members, public.teams, public.team_members from authenticated;

-- Billing fields (plan, entitlements, stripe_customer_id) are written by the service only.
grant select on public.orgs to authenticated;
grant update (name) on public.orgs to authenticated;
grant select, insert, update, delete on public.org_members, public.teams, public.team_members
  to authenticated;

-- Members see their own org.
create policy orgs_select_member on public.orgs for select to authenticated
  using (id = (select private.current_org_id()));
-- Admins rename their org.
create policy orgs_update_admin on public.orgs for update to authenticated
  using (id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (id = (select private.current_org_id()));

-- Everyone in an org sees who else is in it (names for leaderboards and assignment pickers).
create policy org_members_select_member on public.org_members for select to authenticated
  using (org_id = (select private.current_org_id()));
-- Only admins add, change or remove members.
create policy org_members_insert_admin on public.org_members for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy org_members_update_admin on public.org_members for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy org_members_delete_admin on public.org_members for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
-- The token hook reads memberships of the user being signed in.
create policy org_members_select_auth_admin on public.org_members for select
  to supabase_auth_admin using (true);

-- Teams and their members: visible to the org, managed by admins.
create policy teams_select_member on public.teams for select to authenticated
  using (org_id = (select private.current_org_id()));
create policy teams_insert_admin on public.teams for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy teams_update_admin on public.teams for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy teams_delete_admin on public.teams for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));

create policy team_members_select_member on public.team_members for select to authenticated
  using (org_id = (select private.current_org_id()));
create policy team_members_insert_admin on public.team_members for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy team_members_update_admin on public.team_members for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy team_members_delete_admin on public.team_members for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
