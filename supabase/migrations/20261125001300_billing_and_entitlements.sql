-- Billing and entitlements: what Stripe and Clerk tell us (written by server/inbound as the
-- service role), the limits each plan buys and their enforcement, the data behind exports and
-- storage expiry (server/exports), and the assignment.completed / track.completed webhooks.
--
-- Entitlements live in orgs.entitlements ({"seats": 10, "active_scenarios": 5,
-- "retention_days": 90}); a missing key means unlimited. Exceeding a limit raises SQLSTATE
-- CD402 ("Coachdesk: payment required") with a message a person can act on and a JSON detail
-- {"entitlement", "limit", "in_use"} the app can format; PostgREST (and the local stack) answer
-- it with HTTP 400 and that code.

-- Plans and entitlements ---------------------------------------------------------------------
-- What each plan includes (a subscription's quantity can add seats, see plan_seats).
-- Enterprise is unlimited: no key, no limit.
create or replace function private.plan_entitlements(plan public.org_plan) returns jsonb
language sql immutable
set search_path = ''
as $$
  select case plan
    when 'free' then '{"seats": 5, "active_scenarios": 3, "retention_days": 30}'::jsonb
    when 'team' then '{"seats": 10, "active_scenarios": 10, "retention_days": 90}'::jsonb
    when 'business' then '{"seats": 50, "active_scenarios": 25, "retention_days": 365}'::jsonb
    else '{}'::jsonb
  end
$$;

-- The keys the database enforces; each, when present, is a whole number >= 0.
create or replace function private.assert_entitlements(entitlements jsonb) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  key text;
begin
  foreach key in array array['seats', 'active_scenarios', 'retention_days'] loop
    if entitlements ? key and not (
      jsonb_typeof(entitlements -> key) = 'number'
      and (entitlements ->> key)::numeric >= 0
      and (entitlements ->> key)::numeric = trunc((entitlements ->> key)::numeric)
    ) then
      raise exception 'entitlements is invalid: "%" must be a whole number >= 0 (got %)',
        key, entitlements -> key
        using errcode = 'check_violation',
              hint = 'Leave the key out for "unlimited".';
    end if;
  end loop;
  return true;
end
$$;

alter table public.orgs
  add constraint orgs_entitlements_valid check (private.assert_entitlements(entitlements));

-- The limit an org's plan sets for `key`, or NULL (unlimited). Locks the org row against
-- concurrent limit checks (NO KEY UPDATE does not block foreign-key checks), so two admins
-- adding the last seat at once cannot both succeed.
create or replace function private.entitlement_limit(org uuid, key text) returns bigint
language plpgsql volatile
set search_path = ''
as $$
declare
  entitlements jsonb;
begin
  select o.entitlements into entitlements
  from public.orgs o where o.id = org
  for no key update;
  return (entitlements ->> key)::bigint;
end
$$;

create or replace function private.raise_entitlement_exceeded(org uuid, key text, lim bigint,
  in_use bigint, what text, advice text)
returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  org_name text := (select o.name from public.orgs o where o.id = org);
begin
  raise exception '% limit reached: the plan of % allows %, and % already uses %', what,
    coalesce(org_name, org::text), lim, coalesce(org_name, org::text), in_use
    using errcode = 'CD402',
          detail = jsonb_build_object('entitlement', key, 'limit', lim, 'in_use', in_use,
                                      'org_id', org)::text,
          hint = advice;
end
$$;

-- Seats: members of an org. SECURITY DEFINER so the count sees every member whoever inserts
-- (an admin's RLS view of the org is complete today, but the rule must not depend on it).
-- Lowering seats below the current count keeps everyone; only new members are refused.
create or replace function private.enforce_seats() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  lim bigint;
  in_use bigint;
begin
  if tg_op = 'UPDATE' and new.org_id = old.org_id then
    return new;
  end if;
  -- An upsert of an existing member fires this before its conflict turns it into an update.
  if exists (select 1 from public.org_members m
             where m.org_id = new.org_id and m.user_id = new.user_id) then
    return new;
  end if;
  lim := private.entitlement_limit(new.org_id, 'seats');
  if lim is null then
    return new;
  end if;
  select count(*) into in_use from public.org_members m where m.org_id = new.org_id;
  if in_use >= lim then
    perform private.raise_entitlement_exceeded(new.org_id, 'seats', lim, in_use, 'seat',
      'Remove a member or upgrade the plan to add more people.');
  end if;
  return new;
end
$$;

create trigger enforce_seats before insert or update of org_id on public.org_members
  for each row execute function private.enforce_seats();

-- Active scenarios: published scenarios of an org (drafts and archived ones are free).
create or replace function private.enforce_active_scenarios() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  lim bigint;
  in_use bigint;
begin
  if new.status <> 'published'
     or (tg_op = 'UPDATE' and old.status = 'published' and new.org_id = old.org_id) then
    return new;
  end if;
  lim := private.entitlement_limit(new.org_id, 'active_scenarios');
  if lim is null then
    return new;
  end if;
  select count(*) into in_use
  from public.scenarios s
  where s.org_id = new.org_id and s.status = 'published' and s.id <> new.id;
  if in_use >= lim then
    perform private.raise_entitlement_exceeded(new.org_id, 'active_scenarios', lim, in_use,
      'active scenario', 'Archive a published scenario or upgrade the plan to publish more.');
  end if;
  return new;
end
$$;

create trigger enforce_active_scenarios before insert or update of status, org_id
  on public.scenarios
  for each row execute function private.enforce_active_scenarios();

-- Inbound events (Stripe, Clerk) -------------------------------------------------------------
-- Every event applied, by the provider's id (Stripe's event id, Svix's message id), written in
-- the same transaction as its effects: a redelivered event finds its row and changes nothing,
-- a failed one leaves no row and is applied when the provider retries.
create table private.inbound_events (
  provider text not null check (provider in ('stripe', 'clerk')),
  event_id text not null check (length(event_id) between 1 and 255),
  event_type text not null,
  outcome text not null default 'applied',
  received_at timestamptz not null default now(),
  primary key (provider, event_id)
);
comment on table private.inbound_events is
  'Stripe and Clerk events already applied (idempotency); pruned after 30 days.';
create index inbound_events_received_at_idx on private.inbound_events (received_at);

-- Stripe state per org: the subscription and the time of the newest event applied, so an
-- older event delivered late (Stripe does not order them) cannot undo a newer one.
create table private.org_billing (
  org_id uuid primary key references public.orgs (id) on delete cascade,
  stripe_subscription_id text,
  subscription_status text,
  last_event_at timestamptz not null,
  updated_at timestamptz not null default now()
);

-- Clerk's ids ("user_…", "org_…") for our users and orgs.
create table private.clerk_users (
  clerk_user_id text primary key,
  user_id uuid not null unique references auth.users (id) on delete cascade,
  -- Clerk's updated_at (ms) of the data applied, so a late older event changes nothing.
  source_updated_at bigint not null default 0
);
create table private.clerk_orgs (
  clerk_org_id text primary key,
  org_id uuid not null unique references public.orgs (id) on delete cascade
);

-- Private, but RLS on as a second wall; only the service role (server/inbound) touches them.
alter table private.inbound_events enable row level security;
alter table private.org_billing enable row level security;
alter table private.clerk_users enable row level security;
alter table private.clerk_orgs enable row level security;
revoke all on private.inbound_events, private.org_billing, private.clerk_users,
  private.clerk_orgs from public, anon, authenticated;
grant select, insert, update, delete on private.inbound_events, private.org_billing
  to service_role;
-- Written only through the SECURITY DEFINER Clerk functions below.
grant select on private.clerk_users, private.clerk_orgs to service_role;

-- True when the event is new (and now recorded); false for a redelivery. Concurrent
-- deliveries of one event queue on the primary key, and the second sees the first's row.
create or replace function private.claim_inbound_event(provider text, event_id text,
  event_type text)
returns boolean
language sql volatile
set search_path = ''
as $$
  with claimed as (
    insert into private.inbound_events (provider, event_id, event_type)
    values (provider, event_id, event_type)
    on conflict do nothing
    returning 1
  )
  select exists (select 1 from claimed)
$$;

create or replace function private.set_inbound_outcome(provider text, event_id text,
  outcome text)
returns void
language sql volatile
set search_path = ''
as $$
  update private.inbound_events e set outcome = set_inbound_outcome.outcome
  where e.provider = set_inbound_outcome.provider and e.event_id = set_inbound_outcome.event_id
$$;

-- Providers retry for about three days; a month of ids is ample. Returns the count removed.
create or replace function private.prune_inbound_events(older_than interval default '30 days')
returns int
language sql volatile
set search_path = ''
as $$
  with gone as (
    delete from private.inbound_events e where e.received_at < now() - older_than returning 1
  )
  select count(*)::int from gone
$$;

-- Stripe --------------------------------------------------------------------------------------
-- The org a Stripe object belongs to: by its customer id, else by the org id our checkout put
-- in client_reference_id/metadata. NULL when neither is known.
create or replace function private.stripe_org(customer text, org_hint uuid) returns uuid
language sql stable
set search_path = ''
as $$
  select coalesce(
    (select o.id from public.orgs o where o.stripe_customer_id = customer),
    (select o.id from public.orgs o where o.id = org_hint))
$$;

-- A plan's entitlements with the seats a subscription bought: its quantity when that is more
-- than the plan includes (a flat price has quantity 1); an unlimited plan stays unlimited.
create or replace function private.plan_seats(entitlements jsonb, seats int) returns jsonb
language sql immutable
set search_path = ''
as $$
  select case
    when seats is null or not entitlements ? 'seats' then entitlements
    else entitlements
         || jsonb_build_object('seats', greatest((entitlements ->> 'seats')::int, seats))
  end
$$;

-- Applies one Stripe event's billing state to an org; returns 'applied', or 'superseded' when
-- a newer event was already applied. plan NULL keeps the plan (a checkout that names none);
-- seats is the subscription's quantity (see plan_seats).
create or replace function private.apply_stripe_billing(org uuid, customer text,
  subscription text, subscription_status text, plan public.org_plan, seats int,
  event_at timestamptz)
returns text
language plpgsql volatile
set search_path = ''
as $$
declare
  current_at timestamptz;
begin
  select b.last_event_at into current_at
  from public.orgs o left join private.org_billing b on b.org_id = o.id
  where o.id = org
  for update of o;
  if not found then
    raise exception 'org % does not exist', org using errcode = 'no_data_found';
  end if;
  if current_at is not null and current_at > event_at then
    return 'superseded';
  end if;
  if customer is not null
     and exists (select 1 from public.orgs o where o.stripe_customer_id = customer
                 and o.id <> org) then
    raise exception 'Stripe customer % already belongs to another org', customer
      using errcode = 'unique_violation';
  end if;
  update public.orgs o
  set stripe_customer_id = coalesce(customer, o.stripe_customer_id),
      plan = coalesce(apply_stripe_billing.plan, o.plan),
      entitlements = case
        when apply_stripe_billing.plan is null then o.entitlements
        else private.plan_seats(private.plan_entitlements(apply_stripe_billing.plan), seats)
      end
  where o.id = org;
  insert into private.org_billing as b (org_id, stripe_subscription_id, subscription_status,
                                        last_event_at)
  values (org, subscription, subscription_status, event_at)
  on conflict (org_id) do update
  set stripe_subscription_id = coalesce(excluded.stripe_subscription_id,
                                        b.stripe_subscription_id),
      subscription_status = coalesce(excluded.subscription_status, b.subscription_status),
      last_event_at = excluded.last_event_at,
      updated_at = now();
  return 'applied';
end
$$;

-- Clerk ---------------------------------------------------------------------------------------
-- Creates or updates the user behind a Clerk user id; returns our id. An existing account
-- with the same email is linked only when Clerk has verified that address (otherwise the
-- unique email refuses it), so an unverified address cannot take over someone's account.
-- updated_ms older than what was applied changes nothing.
create or replace function private.clerk_upsert_user(clerk_user_id text, email text,
  email_verified boolean, full_name text, updated_ms bigint)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  mapped private.clerk_users;
  uid uuid;
begin
  select c.* into mapped from private.clerk_users c
  where c.clerk_user_id = clerk_upsert_user.clerk_user_id
  for update;
  if found then
    if mapped.source_updated_at > updated_ms then
      return mapped.user_id;
    end if;
    update auth.users u
    set email = coalesce(lower(clerk_upsert_user.email), u.email),
        raw_user_meta_data = u.raw_user_meta_data
          || jsonb_build_object('full_name', coalesce(full_name, ''),
                                'clerk_user_id', clerk_upsert_user.clerk_user_id),
        updated_at = now()
    where u.id = mapped.user_id;
    update private.clerk_users c set source_updated_at = updated_ms
    where c.clerk_user_id = clerk_upsert_user.clerk_user_id;
    return mapped.user_id;
  end if;

  if email_verified and clerk_upsert_user.email is not null then
    -- Emails are stored lower-case (as GoTrue stores them), so the unique index serves this.
    select u.id into uid from auth.users u where u.email = lower(clerk_upsert_user.email);
  end if;
  if uid is null then
    insert into auth.users (email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
    values (lower(clerk_upsert_user.email), case when email_verified then now() end,
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

-- Deletes the user (memberships and their attempts go with it, by the foreign keys). Returns
-- false when Clerk's id was never seen.
create or replace function private.clerk_delete_user(clerk_user_id text) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  uid uuid;
begin
  delete from private.clerk_users c where c.clerk_user_id = clerk_delete_user.clerk_user_id
  returning c.user_id into uid;
  if uid is null then
    return false;
  end if;
  delete from auth.users u where u.id = uid;
  return true;
end
$$;

-- Our org for a Clerk org: the mapped one; else the org named by Clerk's public metadata
-- (coachdesk_org_id, set when an existing org connects Clerk); else a new free org.
create or replace function private.clerk_org(clerk_org_id text, name text, slug text,
  linked_org uuid)
returns uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  org uuid;
  base text;
begin
  select c.org_id into org from private.clerk_orgs c where c.clerk_org_id = clerk_org.clerk_org_id;
  if found then
    return org;
  end if;
  select o.id into org from public.orgs o where o.id = linked_org;
  if org is null then
    -- Our slugs are stricter than Clerk's: keep what fits, and make it unique with Clerk's id.
    base := left(trim(both '-' from regexp_replace(lower(coalesce(nullif(slug, ''), name, 'org')),
                                                    '[^a-z0-9-]+', '-', 'g')), 40);
    if length(base) < 2 then
      base := 'org';
    end if;
    insert into public.orgs (name, slug, plan, entitlements)
    values (left(coalesce(nullif(btrim(name), ''), 'Clerk organisation'), 200),
            base || '-' || lower(right(regexp_replace(clerk_org.clerk_org_id, '[^A-Za-z0-9]', '',
                                                      'g'), 12)),
            'free', private.plan_entitlements('free'))
    returning id into org;
  end if;
  insert into private.clerk_orgs (clerk_org_id, org_id) values (clerk_org.clerk_org_id, org);
  return org;
end
$$;

-- Clerk's roles are "org:<key>"; ours are the four org roles. An unknown custom role gets the
-- least privilege (trainee) rather than blocking the membership.
create or replace function private.clerk_role(role text) returns public.org_role
language sql immutable
set search_path = ''
as $$
  select case lower(regexp_replace(coalesce(role, ''), '^org:', ''))
    when 'admin' then 'admin'
    when 'manager' then 'manager'
    when 'hr' then 'hr'
    else 'trainee'
  end::public.org_role
$$;

-- Creates or updates a membership from Clerk (the user is created first when Clerk sent the
-- membership before the user). Returns the org_members id. The seat limit applies.
create or replace function private.clerk_upsert_membership(clerk_org_id text, org_name text,
  org_slug text, linked_org uuid, clerk_user_id text, email text, full_name text, role text)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  org uuid := private.clerk_org(clerk_org_id, org_name, org_slug, linked_org);
  uid uuid;
  member uuid;
begin
  select c.user_id into uid from private.clerk_users c
  where c.clerk_user_id = clerk_upsert_membership.clerk_user_id;
  if uid is null then
    -- Clerk's identifier in a membership is the address the user signed in with; not known
    -- verified here, so it never links to an existing account.
    uid := private.clerk_upsert_user(clerk_user_id, email, false, full_name, 0);
  end if;
  insert into public.org_members as m (org_id, user_id, role, display_name)
  values (org, uid, private.clerk_role(role), left(coalesce(full_name, ''), 200))
  on conflict (org_id, user_id) do update
  set role = excluded.role,
      display_name = case when excluded.display_name = '' then m.display_name
                          else excluded.display_name end
  returning m.id into member;
  return member;
end
$$;

create or replace function private.clerk_delete_membership(clerk_org_id text,
  clerk_user_id text)
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  removed int;
begin
  delete from public.org_members m
  using private.clerk_orgs co, private.clerk_users cu
  where co.clerk_org_id = clerk_delete_membership.clerk_org_id
    and cu.clerk_user_id = clerk_delete_membership.clerk_user_id
    and m.org_id = co.org_id and m.user_id = cu.user_id;
  get diagnostics removed = row_count;
  return removed > 0;
end
$$;

-- Exports -------------------------------------------------------------------------------------
-- Managers, admins and hr ask for a CSV; the export job (service role) writes it to the
-- exports bucket at {org_id}/{kind}/… and records the object name here. The requester then
-- opens it with grant_signed_url('exports/' || object_name).
create table public.export_requests (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  kind text not null check (kind in ('attempts', 'leaderboard')),
  -- UTC days, both included.
  from_date date not null,
  to_date date not null,
  requested_by uuid default auth.uid() references auth.users (id) on delete set null,
  status text not null default 'pending'
    check (status in ('pending', 'running', 'done', 'failed')),
  object_name text,
  row_count int check (row_count >= 0),
  error text check (length(error) <= 2000),
  locked_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  constraint export_requests_range check (to_date >= from_date and to_date - from_date <= 366),
  constraint export_requests_done_has_object check (status <> 'done' or object_name is not null)
);
comment on table public.export_requests is
  'CSV exports asked for by managers, admins and hr; written to the exports bucket by the job.';
create index export_requests_org_id_created_at_idx on public.export_requests (org_id, created_at);
create index export_requests_requested_by_idx on public.export_requests (requested_by);
create index export_requests_pending_idx on public.export_requests (created_at)
  where status = 'pending';

create trigger touch before insert or update on public.export_requests
  for each row execute function private.touch_row();

alter table public.export_requests enable row level security;
revoke all on public.export_requests from anon, authenticated;
grant select on public.export_requests to authenticated;
grant insert (org_id, kind, from_date, to_date) on public.export_requests to authenticated;
grant select, insert, update, delete on public.export_requests to service_role;

-- Exports hold every member's results: the same people who may read the exports bucket.
create policy export_requests_select_reporting on public.export_requests for select
  to authenticated
  using (org_id = (select private.current_org_id())
         and (select private.has_org_role('manager', 'admin', 'hr')));
create policy export_requests_insert_reporting on public.export_requests for insert
  to authenticated
  with check (org_id = (select private.current_org_id())
              and (select private.has_org_role('manager', 'admin', 'hr'))
              and requested_by = (select auth.uid()));

-- The job takes pending requests (and ones a dead job left running) one batch at a time.
create or replace function private.claim_export_requests(batch int default 5,
  stale interval default '15 minutes')
returns setof public.export_requests
language sql volatile
set search_path = ''
as $$
  with due as (
    select r.id from public.export_requests r
    where r.status = 'pending' or (r.status = 'running' and r.locked_at < now() - stale)
    order by r.created_at
    limit batch
    for update skip locked
  )
  update public.export_requests r
  set status = 'running', locked_at = now()
  from due where r.id = due.id
  returning r.*
$$;

create or replace function private.finish_export_request(request uuid, object_name text,
  row_count int, error text)
returns void
language sql volatile
set search_path = ''
as $$
  update public.export_requests r
  set status = case when finish_export_request.error is null then 'done' else 'failed' end,
      object_name = finish_export_request.object_name,
      row_count = finish_export_request.row_count,
      error = left(finish_export_request.error, 2000),
      locked_at = null,
      completed_at = now()
  where r.id = request
$$;

-- Attempts of an org started on UTC days [from_date, to_date], with KPIs, oldest first.
create or replace function private.export_attempts(org uuid, from_date date, to_date date)
returns table (
  attempt_id uuid,
  started_at timestamptz,
  ended_at timestamptz,
  user_id uuid,
  display_name text,
  scenario_id uuid,
  scenario_title text,
  assignment_id uuid,
  status public.attempt_status,
  score numeric,
  passed boolean,
  duration_seconds numeric,
  kpis jsonb
)
language sql stable
set search_path = ''
as $$
  select a.id, a.started_at, a.ended_at, a.user_id, m.display_name, a.scenario_id, s.title,
         a.assignment_id, a.status, a.score,
         case when a.status = 'scored'
              then coalesce((a.score_breakdown ->> 'passed')::boolean, false) end,
         a.duration_seconds, coalesce(a.kpis, '{}'::jsonb)
  from public.scenario_attempts a
  join public.org_members m on m.org_id = a.org_id and m.user_id = a.user_id
  join public.scenarios s on s.id = a.scenario_id
  where a.org_id = org
    and a.started_at >= (from_date::timestamp at time zone 'UTC')
    and a.started_at < ((to_date + 1)::timestamp at time zone 'UTC')
  order by a.started_at, a.id
$$;

-- The leaderboard of an org over UTC days [from_date, to_date]: members with an attempt in
-- the range, ranked by average score (ties share a rank; no score ranks last), as the monthly
-- leaderboard does.
create or replace function private.export_leaderboard(org uuid, from_date date, to_date date)
returns table (
  rank int,
  user_id uuid,
  display_name text,
  attempts int,
  scored_attempts int,
  avg_score numeric,
  best_score numeric,
  passed_attempts int
)
language sql stable
set search_path = ''
as $$
  select (rank() over (order by round(avg(a.score), 2) desc nulls last))::int,
         a.user_id, m.display_name, count(*)::int,
         (count(*) filter (where a.status = 'scored'))::int,
         round(avg(a.score), 2), max(a.score),
         (count(*) filter (where a.status = 'scored'
                             and coalesce((a.score_breakdown ->> 'passed')::boolean, false)))::int
  from public.scenario_attempts a
  join public.org_members m on m.org_id = a.org_id and m.user_id = a.user_id
  where a.org_id = org
    and a.started_at >= (from_date::timestamp at time zone 'UTC')
    and a.started_at < ((to_date + 1)::timestamp at time zone 'UTC')
  group by a.user_id, m.display_name
  order by 1, m.display_name, a.user_id
$$;

-- Storage expiry ------------------------------------------------------------------------------
-- Objects due for removal: tmp objects older than tmp_ttl, and recordings older than their
-- org's retention_days (no key: kept forever). The job removes them through the Storage API,
-- which deletes the bytes too; deleting rows here would orphan them.
create or replace function private.expired_storage_objects(tmp_ttl interval default '1 day',
  batch int default 500)
returns table (bucket_id text, name text, org_id uuid, reason text)
language sql stable
set search_path = ''
as $$
  (select o.bucket_id, o.name, private.try_uuid((storage.foldername(o.name))[1]),
          'older than ' || tmp_ttl::text
   from storage.objects o
   where o.bucket_id = 'tmp' and o.created_at < now() - tmp_ttl
   order by o.created_at
   limit batch)
  union all
  (select o.bucket_id, o.name, g.id,
          format('past the plan''s retention of %s days', g.entitlements ->> 'retention_days')
   from public.orgs g
   join storage.objects o
     on o.bucket_id = 'recordings' and (storage.foldername(o.name))[1] = g.id::text
   where g.entitlements ? 'retention_days'
     and o.created_at < now() - make_interval(days => (g.entitlements ->> 'retention_days')::int)
   order by o.created_at
   limit batch)
$$;

-- After the job removed recordings: attempts stop pointing at them (the score and KPIs stay).
create or replace function private.forget_recordings(names text[]) returns int
language sql volatile
set search_path = ''
as $$
  with cleared as (
    update public.scenario_attempts a set recording_path = null
    where a.recording_path = any (names)
    returning 1
  )
  select count(*)::int from cleared
$$;

-- Completion events -----------------------------------------------------------------------------
-- assignment.completed and track.completed, raised when an attempt is scored (the webhooks
-- migration raises attempt.scored, assignment.created and member.added). Each fires once: on
-- the attempt that completes the work, not on later attempts that pass again.
--   assignment.completed: a scenario assignment's first attempt at or above its required score
--     (the assignment's, else the scenario's pass score); a track assignment once every scenario
--     of the track has such an attempt under that assignment. Per user (team assignments fire
--     for each member).
--   track.completed: the user has passed (the scenario's pass score) every scenario of a track
--     that contains the attempt's scenario, whether assigned or not.

-- Has `user_id` an attempt other than `except_attempt` on this scenario at or above `threshold`
-- (NULL: the scenario's pass score), under `assignment` when given?
create or replace function private.passed_before(org uuid, user_id uuid, scenario uuid,
  assignment uuid, threshold numeric, except_attempt uuid)
returns boolean
language sql stable
set search_path = ''
as $$
  select exists (
    select 1
    from public.scenario_attempts a
    join public.scenarios s on s.id = a.scenario_id
    where a.org_id = org and a.user_id = passed_before.user_id and a.scenario_id = scenario
      and a.id <> except_attempt and a.status = 'scored'
      and (assignment is null or a.assignment_id = assignment)
      and a.score >= coalesce(threshold, s.pass_score)
  )
$$;

-- Scenarios of a track the user has not yet passed (ignoring `except_attempt`'s scenario when
-- it passes, which the caller has checked).
create or replace function private.track_scenarios_left(org uuid, track uuid, user_id uuid,
  assignment uuid, threshold numeric, done_scenario uuid)
returns bigint
language sql stable
set search_path = ''
as $$
  select count(*)
  from public.track_scenarios ts
  join public.scenarios s on s.id = ts.scenario_id
  where ts.org_id = org and ts.track_id = track and ts.scenario_id <> done_scenario
    and not exists (
      select 1 from public.scenario_attempts a
      where a.org_id = org and a.user_id = track_scenarios_left.user_id
        and a.scenario_id = ts.scenario_id and a.status = 'scored'
        and (assignment is null or a.assignment_id = assignment)
        and a.score >= coalesce(threshold, s.pass_score)
    )
$$;

create or replace function private.webhook_on_completion() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  assignment public.assignments;
  pass_score numeric;
  threshold numeric;
  track record;
begin
  if new.score is null then
    return null;
  end if;
  select s.pass_score into pass_score from public.scenarios s where s.id = new.scenario_id;

  if new.assignment_id is not null
     and private.org_has_webhook_for(new.org_id, 'assignment.completed') then
    select a.* into assignment from public.assignments a where a.id = new.assignment_id;
    threshold := coalesce(assignment.required_score, pass_score);
    if new.score >= threshold
       and not private.passed_before(new.org_id, new.user_id, new.scenario_id, assignment.id,
                                     assignment.required_score, new.id)
       and (assignment.track_id is null
            or private.track_scenarios_left(new.org_id, assignment.track_id, new.user_id,
                                            assignment.id, assignment.required_score,
                                            new.scenario_id) = 0) then
      perform private.enqueue_webhook_for_org(new.org_id, 'assignment.completed',
        jsonb_build_object(
          'org_id', new.org_id,
          'assignment_id', assignment.id,
          'scenario_id', assignment.scenario_id,
          'track_id', assignment.track_id,
          'user_id', new.user_id,
          'attempt_id', new.id,
          'score', new.score,
          'required_score', threshold,
          'completed_at', new.scored_at));
    end if;
  end if;

  if new.score >= pass_score
     and private.org_has_webhook_for(new.org_id, 'track.completed')
     and not private.passed_before(new.org_id, new.user_id, new.scenario_id, null, null,
                                   new.id) then
    for track in
      select t.id from public.tracks t
      join public.track_scenarios ts on ts.track_id = t.id and ts.org_id = t.org_id
      where t.org_id = new.org_id and ts.scenario_id = new.scenario_id and t.status <> 'draft'
    loop
      if private.track_scenarios_left(new.org_id, track.id, new.user_id, null, null,
                                      new.scenario_id) = 0 then
        perform private.enqueue_webhook_for_org(new.org_id, 'track.completed',
          jsonb_build_object(
            'org_id', new.org_id,
            'track_id', track.id,
            'user_id', new.user_id,
            'attempt_id', new.id,
            'completed_at', new.scored_at));
      end if;
    end loop;
  end if;
  return null;
end
$$;

create trigger webhook_completion_on_insert after insert on public.scenario_attempts
  for each row when (new.status = 'scored')
  execute function private.webhook_on_completion();
create trigger webhook_completion_on_update after update on public.scenario_attempts
  for each row when (new.status = 'scored' and old.status is distinct from 'scored')
  execute function private.webhook_on_completion();

-- Function privileges ---------------------------------------------------------------------------
revoke execute on function
  private.plan_entitlements(public.org_plan),
  private.plan_seats(jsonb, int),
  private.assert_entitlements(jsonb),
  private.entitlement_limit(uuid, text),
  private.raise_entitlement_exceeded(uuid, text, bigint, bigint, text, text),
  private.enforce_seats(),
  private.enforce_active_scenarios(),
  private.claim_inbound_event(text, text, text),
  private.set_inbound_outcome(text, text, text),
  private.prune_inbound_events(interval),
  private.stripe_org(text, uuid),
  private.apply_stripe_billing(uuid, text, text, text, public.org_plan, int, timestamptz),
  private.clerk_upsert_user(text, text, boolean, text, bigint),
  private.clerk_delete_user(text),
  private.clerk_org(text, text, text, uuid),
  private.clerk_role(text),
  private.clerk_upsert_membership(text, text, text, uuid, text, text, text, text),
  private.clerk_delete_membership(text, text),
  private.claim_export_requests(int, interval),
  private.finish_export_request(uuid, text, int, text),
  private.export_attempts(uuid, date, date),
  private.export_leaderboard(uuid, date, date),
  private.expired_storage_objects(interval, int),
  private.forget_recordings(text[]),
  private.passed_before(uuid, uuid, uuid, uuid, numeric, uuid),
  private.track_scenarios_left(uuid, uuid, uuid, uuid, numeric, uuid),
  private.webhook_on_completion()
  from public, anon, authenticated;

-- An admin's own update of orgs evaluates the entitlements check.
grant execute on function private.assert_entitlements(jsonb) to authenticated, service_role;
-- The inbound receivers and the export job.
grant execute on function
  private.plan_entitlements(public.org_plan),
  private.plan_seats(jsonb, int),
  private.claim_inbound_event(text, text, text),
  private.set_inbound_outcome(text, text, text),
  private.prune_inbound_events(interval),
  private.stripe_org(text, uuid),
  private.apply_stripe_billing(uuid, text, text, text, public.org_plan, int, timestamptz),
  private.clerk_upsert_user(text, text, boolean, text, bigint),
  private.clerk_delete_user(text),
  private.clerk_org(text, text, text, uuid),
  private.clerk_role(text),
  private.clerk_upsert_membership(text, text, text, uuid, text, text, text, text),
  private.clerk_delete_membership(text, text),
  private.claim_export_requests(int, interval),
  private.finish_export_request(uuid, text, int, text),
  private.export_attempts(uuid, date, date),
  private.export_leaderboard(uuid, date, date),
  private.expired_storage_objects(interval, int),
  private.forget_recordings(text[])
  to service_role;
