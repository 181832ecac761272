-- Outbound webhooks: endpoints per org, a durable delivery outbox, and the functions the
-- dispatcher (server/, as service_role) drives it with.
--
-- Delivery life cycle (status):
--   pending --claim--> running --2xx--> succeeded
--                         |----other--> failed --(due again)--claim--> running ...
--                         `--other, attempts used up--> dead
--   running for longer than the reaper's `stale` -> failed (or dead when out of attempts).
--   pending/failed when its endpoint is disabled -> dead ("not sent"; an admin can redeliver).
-- The outbox is the source of truth; HTTP is only transport (see ../shared notes on pg_net).
--
-- Signing follows Standard Webhooks: the dispatcher sends `webhook-id` = message_id (the same
-- for every endpoint and every retry of one event, so receivers can deduplicate),
-- `webhook-timestamp` and `webhook-signature` = "v1,<base64 HMAC-SHA256>" with the endpoint's
-- secret, plus a second "v1,..." entry with previous_secret until previous_secret_expires_at.

create type public.webhook_delivery_status as enum ('pending', 'running', 'succeeded', 'failed',
                                                    'dead');

-- Validation -----------------------------------------------------------------------------------
-- The events an endpoint can subscribe to ('*' subscribes to all of them, present and future).
create or replace function private.webhook_event_types() returns text[]
language sql immutable
set search_path = ''
as $$
  select array['attempt.scored', 'attempt.uploaded', 'assignment.created',
               'assignment.completed', 'track.completed', 'member.added', 'member.removed']
$$;

-- Used in CHECK constraints, so the rule holds for every writer; raises the precise problem
-- (check_violation) instead of naming a constraint, so an admin knows what to fix.
create or replace function private.assert_webhook_url(url text) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  authority text;
  host text;
  port text;
  problem text;
begin
  if url is null then
    return true; -- NOT NULL reports a missing url
  end if;
  authority := substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)');
  host := substring(authority from '^(\[[0-9A-Fa-f:.]+\]|[^:]*)');
  port := substr(authority, length(host) + 1);
  if length(url) > 2048 then
    problem := 'must be at most 2048 characters';
  elsif url ~ '[[:space:][:cntrl:]]' then
    problem := 'must not contain spaces or control characters';
  elsif url !~* '^https?://' then
    problem := 'must start with https:// (or http://)';
  elsif position('#' in url) > 0 then
    problem := 'must not contain a #fragment';
  elsif position('@' in authority) > 0 then
    -- URLs are shown in the admin UI and logs; the signature authenticates the sender.
    problem := 'must not contain a user name or password';
  elsif host = '' then
    problem := 'needs a host name after the scheme';
  elsif host !~ ('^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
                 '(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$') then
    problem := format('"%s" is not a valid host name', host);
  elsif port <> '' and port !~ '^:[0-9]{1,5}$' then
    problem := 'port must be a number between 1 and 65535';
  elsif port <> '' and substr(port, 2)::int not between 1 and 65535 then
    problem := 'port must be a number between 1 and 65535';
  end if;
  if problem is not null then
    raise exception 'url is invalid: %', problem
      using errcode = 'check_violation', detail = format('url: %s', left(url, 200)),
            hint = 'Use an absolute https:// URL such as https://example.com/webhooks/coachdesk.';
  end if;
  return true;
end
$$;

create or replace function private.assert_webhook_events(events text[]) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  unknown text;
  problem text;
begin
  if events is null then
    return true; -- NOT NULL reports it
  end if;
  if cardinality(events) = 0 then
    problem := 'subscribe to at least one event (or "*" for all)';
  elsif array_ndims(events) > 1 then
    problem := 'must be a flat list of event names';
  elsif array_position(events, null) is not null then
    problem := 'must not contain null';
  else
    select e into unknown
    from unnest(events) as e
    where e <> '*' and e <> all (private.webhook_event_types())
    limit 1;
    if unknown is not null then
      problem := format('unknown event "%s"; known events: %s, or "*" for all', unknown,
                        array_to_string(private.webhook_event_types(), ', '));
    end if;
  end if;
  if problem is not null then
    raise exception 'events is invalid: %', problem using errcode = 'check_violation';
  end if;
  return true;
end
$$;

-- Standard Webhooks secret: "whsec_" + base64 of 32 random bytes (the spec asks for >= 24).
create or replace function private.new_webhook_secret() returns text
language sql volatile
set search_path = ''
as $$
  select 'whsec_' || encode(extensions.gen_random_bytes(32), 'base64')
$$;

-- Endpoints ------------------------------------------------------------------------------------
create table public.webhooks (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  url text not null constraint webhooks_url_valid check (private.assert_webhook_url(url)),
  description text not null default '' check (length(description) <= 500),
  events text[] not null
    constraint webhooks_events_valid check (private.assert_webhook_events(events)),
  -- Clients cannot write the secret (no column grant): it is generated here and changed only
  -- by rotate_webhook_secret(), so it is always a fresh, well-formed random key.
  secret text not null default private.new_webhook_secret(),
  -- Kept valid for signing during a rotation window, so receivers can switch without a gap.
  previous_secret text,
  previous_secret_expires_at timestamptz,
  enabled boolean not null default true,
  disabled_reason text,
  -- First failure of the current run of failures; reset by a success. Five days -> disabled.
  failure_since timestamptz,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  -- Lets deliveries reference (webhook, org) so a delivery can never point into another org.
  unique (id, org_id)
);
comment on table public.webhooks is
  'Outbound webhook endpoints of an org: URL, subscribed events, signing secret, enabled.';
comment on column public.webhooks.secret is
  'Standard Webhooks signing secret (whsec_ + base64). Readable by org admins only.';
create index webhooks_org_id_idx on public.webhooks (org_id);
create index webhooks_created_by_idx on public.webhooks (created_by);

-- Re-enabling an endpoint starts it afresh; disabling one by hand says so.
create or replace function private.webhook_enabled_changed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.enabled and not old.enabled then
    new.disabled_reason := null;
    new.failure_since := null;
  elsif old.enabled and not new.enabled and new.disabled_reason is null then
    new.disabled_reason := 'disabled by an admin';
  end if;
  return new;
end
$$;

create trigger touch before insert or update on public.webhooks
  for each row execute function private.touch_row();
create trigger enabled_changed before update of enabled on public.webhooks
  for each row execute function private.webhook_enabled_changed();

-- Deliveries -----------------------------------------------------------------------------------
create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null,
  webhook_id uuid not null,
  -- The Standard Webhooks `webhook-id`: shared by all endpoints and retries of one event, and
  -- kept by redeliver_webhook(), so receivers can deduplicate.
  message_id uuid not null default gen_random_uuid(),
  -- Set on a manual redelivery: the delivery it repeats (history is kept, never rewritten).
  redelivery_of uuid references public.webhook_deliveries (id) on delete set null,
  event text not null
    constraint webhook_deliveries_event_known check (event = any (private.webhook_event_types())),
  -- The body sent: {"type": event, "timestamp": ISO 8601 UTC, "data": {...}}.
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  status public.webhook_delivery_status not null default 'pending',
  attempt_count int not null default 0 check (attempt_count >= 0),
  max_attempts int not null default 8 check (max_attempts between 1 and 50),
  next_attempt_at timestamptz default now(),
  last_attempt_at timestamptz,
  locked_at timestamptz,
  locked_by text,
  response_status int check (response_status between 100 and 599),
  response_body text check (length(response_body) <= 2048),
  last_error text check (length(last_error) <= 2048),
  duration_ms int check (duration_ms >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  constraint webhook_deliveries_running_is_locked
    check (status <> 'running' or locked_at is not null),
  constraint webhook_deliveries_due_has_time
    check (status not in ('pending', 'failed') or next_attempt_at is not null),
  foreign key (webhook_id, org_id) references public.webhooks (id, org_id) on delete cascade
);
comment on table public.webhook_deliveries is
  'Durable outbox of webhook deliveries: payload, status, retries, last response.';
-- The admin's delivery log, newest first, per org and per endpoint (also index the FKs).
create index webhook_deliveries_org_id_created_at_idx
  on public.webhook_deliveries (org_id, created_at);
create index webhook_deliveries_webhook_id_org_id_created_at_idx
  on public.webhook_deliveries (webhook_id, org_id, created_at);
create index webhook_deliveries_redelivery_of_idx
  on public.webhook_deliveries (redelivery_of) where redelivery_of is not null;
-- The dispatcher's queue: only rows that are waiting, however long the history grows.
create index webhook_deliveries_due_idx on public.webhook_deliveries (next_attempt_at)
  where status in ('pending', 'failed');
-- The reaper's scan: the (few) rows a worker holds.
create index webhook_deliveries_running_idx on public.webhook_deliveries (locked_at)
  where status = 'running';

create trigger touch before insert or update on public.webhook_deliveries
  for each row execute function private.touch_row();

-- A disabled endpoint's waiting deliveries become dead ("not sent"), with the reason. Left
-- waiting they would sit at the head of the queue index, where every claim would step over
-- them; an admin who enables the endpoint again redelivers what still matters. SECURITY
-- DEFINER: the admin who disables the endpoint cannot write deliveries.
create or replace function private.webhook_park_deliveries() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  update public.webhook_deliveries d
  set status = 'dead',
      next_attempt_at = null,
      last_error = left(format('not sent: the endpoint was disabled (%s)',
                               coalesce(new.disabled_reason, 'no reason given')), 2048)
  where d.webhook_id = new.id and d.org_id = new.org_id and d.status in ('pending', 'failed');
  return null;
end
$$;

create trigger park_deliveries after update of enabled on public.webhooks
  for each row when (old.enabled and not new.enabled)
  execute function private.webhook_park_deliveries();

-- Retry schedule -------------------------------------------------------------------------------
-- Svix-like: the first attempt is immediate; after the n-th failed attempt the next one waits
-- 5 s * 6^(n-1), capped at 10 h, times a jitter factor 0.8 + 0.4 * jitter (jitter in [0, 1],
-- random by default, so endpoints that failed together do not retry together). With jitter 0.5:
--   after attempt 1: 5 s, 2: 30 s, 3: 3 min, 4: 18 min, 5: 1 h 48 min, 6 and later: 10 h;
-- with the default 8 attempts a delivery is given up about 22 h after it was first sent.
-- Deterministic for a given jitter (the default is evaluated by the caller), hence immutable.
create or replace function private.webhook_retry_delay(attempt int,
  jitter double precision default random())
returns interval
language plpgsql immutable
set search_path = ''
as $$
begin
  if attempt is null or jitter is null or jitter < 0 or jitter > 1 then
    raise exception 'webhook_retry_delay needs an attempt number and a jitter in [0, 1] (got %, %)',
      attempt, jitter
      using errcode = 'invalid_parameter_value';
  end if;
  if attempt < 1 then
    return interval '0';
  end if;
  -- least() before power() keeps huge attempt numbers from overflowing.
  return make_interval(
    secs => least(5 * power(6::double precision, least(attempt, 10) - 1), 36000)
            * (0.8 + 0.4 * jitter));
end
$$;

-- Enqueueing -----------------------------------------------------------------------------------
-- Is any enabled endpoint of the org subscribed to this event? One index probe; the triggers
-- below ask it first so that an org without webhooks pays nothing more.
create or replace function private.org_has_webhook_for(org uuid, event text) returns boolean
language sql stable
set search_path = ''
as $$
  select exists (
    select 1 from public.webhooks w
    where w.org_id = org_has_webhook_for.org and w.enabled
      and w.events && array[org_has_webhook_for.event, '*']
  )
$$;

-- One pending delivery per enabled endpoint of `org` subscribed to `event` (or '*'); returns
-- their ids (none when nobody listens). The payload is the Standard Webhooks envelope.
create or replace function private.enqueue_webhook_for_org(org uuid, event text, data jsonb)
returns setof uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  message uuid := gen_random_uuid();
  envelope jsonb;
begin
  if org is null then
    raise exception 'enqueue_webhook needs the org whose webhooks receive the event'
      using errcode = 'invalid_parameter_value';
  end if;
  if event is null or event <> all (private.webhook_event_types()) then
    raise exception 'unknown webhook event "%"; known events: %', event,
      array_to_string(private.webhook_event_types(), ', ')
      using errcode = 'invalid_parameter_value';
  end if;
  if jsonb_typeof(data) is distinct from 'object' then
    raise exception 'webhook event data must be a JSON object'
      using errcode = 'invalid_parameter_value';
  end if;
  envelope := jsonb_build_object(
    'type', event,
    'timestamp', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'data', data);
  return query
    with created as (
      insert into public.webhook_deliveries (org_id, webhook_id, message_id, event, payload)
      select w.org_id, w.id, message, event, envelope
      from public.webhooks w
      where w.org_id = org and w.enabled and w.events && array[event, '*']
      returning id
    )
    select c.id from created c;
end
$$;

-- The server's entry point: enqueue_webhook('member.removed', '{"org_id": "...", ...}').
-- Returns the ids of the deliveries created (an empty set when no endpoint listens). The whole
-- payload becomes the envelope's `data`; its org_id says whose endpoints receive it.
create or replace function public.enqueue_webhook(event text, payload jsonb)
returns setof uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  org uuid := private.try_uuid(payload ->> 'org_id');
begin
  if jsonb_typeof(payload) is distinct from 'object' or org is null then
    raise exception 'enqueue_webhook: payload must be a JSON object with "org_id" (a uuid)'
      using errcode = 'invalid_parameter_value',
            detail = format('org_id: %s', coalesce(payload ->> 'org_id', 'missing'));
  end if;
  return query select private.enqueue_webhook_for_org(org, event, payload);
end
$$;
comment on function public.enqueue_webhook(text, jsonb) is
  'Creates one pending delivery per enabled endpoint of payload.org_id subscribed to the event; returns their ids. service_role only.';

-- The dispatcher -------------------------------------------------------------------------------
-- Claims up to `batch` due deliveries of enabled endpoints for `worker`: marks them running and
-- counts the attempt. SKIP LOCKED means concurrent workers never receive the same row.
create or replace function public.claim_webhook_deliveries(worker text, batch int default 10)
returns setof public.webhook_deliveries
language plpgsql volatile
set search_path = ''
as $$
begin
  if length(btrim(coalesce(worker, ''))) = 0 or batch is null or batch not between 1 and 1000 then
    raise exception 'claim_webhook_deliveries needs a worker name and a batch of 1 to 1000 (got %, %)',
      worker, batch
      using errcode = 'invalid_parameter_value';
  end if;
  return query
    with due as (
      select d.id
      from public.webhook_deliveries d
      join public.webhooks w on w.id = d.webhook_id
      where d.status in ('pending', 'failed') and d.next_attempt_at <= now() and w.enabled
      order by d.next_attempt_at
      limit batch
      for update of d skip locked
    )
    update public.webhook_deliveries d
    set status = 'running',
        locked_at = now(),
        locked_by = worker,
        attempt_count = d.attempt_count + 1,
        next_attempt_at = null
    from due
    where d.id = due.id
    returning d.*;
end
$$;
comment on function public.claim_webhook_deliveries(text, int) is
  'Marks up to batch due deliveries running for worker and returns them; concurrent callers never share a row. service_role only.';

-- A run of failures that has lasted this long disables the endpoint (as Svix does).
create or replace function private.webhook_note_result(webhook uuid, succeeded boolean)
returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  -- Conditional updates: the endpoint row is written only when its state changes, so workers
  -- reporting many results for one endpoint rarely contend on it.
  if succeeded then
    update public.webhooks w set failure_since = null
    where w.id = webhook and w.failure_since is not null;
  else
    update public.webhooks w set failure_since = now()
    where w.id = webhook and w.failure_since is null;
    update public.webhooks w
    set enabled = false,
        disabled_reason = format('every delivery failed since %s (5 days)',
                                 to_char(w.failure_since at time zone 'UTC',
                                         'YYYY-MM-DD HH24:MI "UTC"'))
    where w.id = webhook and w.enabled and w.failure_since <= now() - interval '5 days';
  end if;
end
$$;

-- Stores the outcome of a claimed delivery's HTTP attempt: 2xx -> succeeded; otherwise failed
-- with the next retry scheduled, or dead once max_attempts attempts were made (or when the
-- endpoint was disabled meanwhile). response_status is NULL when no response came (timeout,
-- refused connection): then `error` says why.
create or replace function public.record_webhook_attempt(delivery_id uuid, response_status int,
  response_body text, error text, duration_ms int)
returns public.webhook_deliveries
language plpgsql volatile
set search_path = ''
as $$
declare
  delivery public.webhook_deliveries;
  endpoint_enabled boolean;
  outcome public.webhook_delivery_status;
begin
  if record_webhook_attempt.response_status is null and record_webhook_attempt.error is null then
    raise exception 'record_webhook_attempt needs a response status or an error'
      using errcode = 'invalid_parameter_value';
  elsif record_webhook_attempt.response_status not between 100 and 599 then
    raise exception 'record_webhook_attempt: % is not an HTTP status (100 to 599)',
      record_webhook_attempt.response_status
      using errcode = 'invalid_parameter_value';
  elsif record_webhook_attempt.duration_ms < 0 then
    raise exception 'record_webhook_attempt: duration_ms must be >= 0 (got %)',
      record_webhook_attempt.duration_ms
      using errcode = 'invalid_parameter_value';
  end if;
  select d.* into delivery
  from public.webhook_deliveries d
  where d.id = record_webhook_attempt.delivery_id
  for update;
  if not found then
    raise exception 'webhook delivery % does not exist', record_webhook_attempt.delivery_id
      using errcode = 'no_data_found';
  end if;
  if delivery.status <> 'running' then
    raise exception 'webhook delivery % is %, not running: only a claimed delivery takes a result',
      delivery.id, delivery.status
      using errcode = 'object_not_in_prerequisite_state',
            hint = 'The reaper may have taken it back after the worker was too slow; claim again.';
  end if;
  select w.enabled into endpoint_enabled from public.webhooks w where w.id = delivery.webhook_id;

  outcome := case
    when record_webhook_attempt.response_status between 200 and 299 then 'succeeded'
    when delivery.attempt_count >= delivery.max_attempts or not endpoint_enabled then 'dead'
    else 'failed'
  end::public.webhook_delivery_status;

  update public.webhook_deliveries d
  set status = outcome,
      next_attempt_at = case when outcome = 'failed'
                             then now() + private.webhook_retry_delay(d.attempt_count) end,
      last_attempt_at = now(),
      locked_at = null,
      response_status = record_webhook_attempt.response_status,
      response_body = left(record_webhook_attempt.response_body, 2048),
      last_error = left(record_webhook_attempt.error, 2048),
      duration_ms = record_webhook_attempt.duration_ms
  where d.id = delivery.id
  returning d.* into delivery;

  perform private.webhook_note_result(delivery.webhook_id, outcome = 'succeeded');
  if outcome = 'failed' then
    -- The endpoint may just have been disabled, which parks this delivery too: re-read it.
    select d.* into delivery from public.webhook_deliveries d where d.id = delivery.id;
  end if;
  return delivery;
end
$$;
comment on function public.record_webhook_attempt(uuid, int, text, text, int) is
  'Stores a claimed delivery''s result: 2xx succeeded, else failed with backoff or dead when out of attempts. service_role only.';

-- Deliveries whose worker died or hung: back to failed with a retry time (dead when that was
-- their last attempt, or their endpoint was disabled meanwhile). Returns how many were taken
-- back.
create or replace function public.reap_webhook_deliveries(stale interval default '5 minutes')
returns int
language plpgsql volatile
set search_path = ''
as $$
declare
  reaped int;
begin
  if stale is null or stale <= interval '0' then
    raise exception 'reap_webhook_deliveries needs a positive interval (got %)', stale
      using errcode = 'invalid_parameter_value';
  end if;
  with abandoned as (
    select d.id, d.attempt_count < d.max_attempts and w.enabled as retry
    from public.webhook_deliveries d
    join public.webhooks w on w.id = d.webhook_id
    where d.status = 'running' and d.locked_at < now() - stale
    for update of d skip locked
  )
  update public.webhook_deliveries d
  set status = case when abandoned.retry then 'failed' else 'dead' end
                 ::public.webhook_delivery_status,
      next_attempt_at = case when abandoned.retry
                             then now() + private.webhook_retry_delay(d.attempt_count) end,
      last_attempt_at = d.locked_at,
      locked_at = null,
      response_status = null,
      response_body = null,
      duration_ms = null,
      last_error = left(format('worker %s reported no result within %s', d.locked_by, stale),
                        2048)
  from abandoned
  where d.id = abandoned.id;
  get diagnostics reaped = row_count;
  return reaped;
end
$$;
comment on function public.reap_webhook_deliveries(interval) is
  'Takes back deliveries running longer than stale (a dead worker) and schedules a retry; returns the count. service_role only.';

-- Admin-facing functions -----------------------------------------------------------------------
-- The dispatcher and jobs act for every org: the service role (by token or SET ROLE) and a
-- superuser session without a token (migrations, maintenance). Called only from SECURITY
-- DEFINER functions, where current_user is the owner but the `role` setting is still the
-- caller's.
create or replace function private.caller_is_service() returns boolean
language plpgsql stable
set search_path = ''
as $$
begin
  return coalesce(auth.role() = 'service_role', false)
    or current_setting('role', true) = 'service_role'
    or (auth.jwt() is null
        and coalesce((select r.rolsuper from pg_catalog.pg_roles r where r.rolname = session_user),
                      false));
end
$$;

-- New secret for an endpoint, returned once; the old one keeps signing for 24 hours (a second
-- signature) so receivers can switch without rejecting deliveries. Admins of the endpoint's
-- org (and the service) only; an unknown id gets the same refusal as a foreign one.
create or replace function public.rotate_webhook_secret(webhook_id uuid) returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  endpoint record;
  fresh text := private.new_webhook_secret();
begin
  select w.id, w.org_id into endpoint
  from public.webhooks w
  where w.id = rotate_webhook_secret.webhook_id;
  if not found
     or not (private.caller_is_service()
             or (endpoint.org_id = private.current_org_id() and private.has_org_role('admin'))) then
    raise exception 'webhook % not found or not visible to you', rotate_webhook_secret.webhook_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the webhook''s org rotate its secret.';
  end if;
  update public.webhooks w
  set previous_secret = w.secret,
      previous_secret_expires_at = now() + interval '24 hours',
      secret = fresh
  where w.id = endpoint.id;
  return fresh;
end
$$;
comment on function public.rotate_webhook_secret(uuid) is
  'Replaces a webhook''s signing secret and returns it; the previous one stays valid for 24 h. Org admins only.';

-- Sends an old delivery again as a new pending one (same event, payload and message id, so the
-- receiver can still deduplicate); the original stays as it was. Returns the new id.
create or replace function public.redeliver_webhook(delivery_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  original record;
  copy_id uuid;
begin
  select d.id, d.org_id, d.webhook_id, d.message_id, d.event, d.payload, w.enabled
  into original
  from public.webhook_deliveries d
  join public.webhooks w on w.id = d.webhook_id
  where d.id = redeliver_webhook.delivery_id;
  if not found
     or not (private.caller_is_service()
             or (original.org_id = private.current_org_id() and private.has_org_role('admin'))) then
    raise exception 'webhook delivery % not found or not visible to you',
      redeliver_webhook.delivery_id
      using errcode = 'insufficient_privilege',
            hint = 'Only admins of the webhook''s org redeliver its events.';
  end if;
  if not original.enabled then
    raise exception 'webhook % is disabled; enable it before redelivering', original.webhook_id
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  insert into public.webhook_deliveries (org_id, webhook_id, message_id, redelivery_of, event,
                                         payload)
  values (original.org_id, original.webhook_id, original.message_id, original.id, original.event,
          original.payload)
  returning id into copy_id;
  return copy_id;
end
$$;
comment on function public.redeliver_webhook(uuid) is
  'Queues a copy of a delivery (same event, payload, message id); returns the new delivery id. Org admins and the service.';

-- Product events raised by the database ----------------------------------------------------------
-- AFTER triggers, SECURITY DEFINER because the member whose write raises the event may not
-- write deliveries. WHEN clauses and org_has_webhook_for() keep them to one index probe when
-- nobody listens. The data is a deliberate public contract: ids and outcomes, never transcripts.
create or replace function private.webhook_on_attempt_scored() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if private.org_has_webhook_for(new.org_id, 'attempt.scored') then
    perform private.enqueue_webhook_for_org(new.org_id, 'attempt.scored', jsonb_build_object(
      'org_id', new.org_id,
      'attempt_id', new.id,
      'user_id', new.user_id,
      'scenario_id', new.scenario_id,
      'assignment_id', new.assignment_id,
      'score', new.score,
      'passed', new.score_breakdown -> 'passed',
      'duration_seconds', new.duration_seconds,
      'started_at', new.started_at,
      'scored_at', new.scored_at));
  end if;
  return null;
end
$$;

create or replace function private.webhook_on_assignment_created() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if private.org_has_webhook_for(new.org_id, 'assignment.created') then
    perform private.enqueue_webhook_for_org(new.org_id, 'assignment.created', jsonb_build_object(
      'org_id', new.org_id,
      'assignment_id', new.id,
      'scenario_id', new.scenario_id,
      'track_id', new.track_id,
      'user_id', new.user_id,
      'team_id', new.team_id,
      'due_at', new.due_at,
      'required_score', new.required_score,
      'assigned_by', new.assigned_by,
      'created_at', new.created_at));
  end if;
  return null;
end
$$;

create or replace function private.webhook_on_member_added() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if private.org_has_webhook_for(new.org_id, 'member.added') then
    perform private.enqueue_webhook_for_org(new.org_id, 'member.added', jsonb_build_object(
      'org_id', new.org_id,
      'member_id', new.id,
      'user_id', new.user_id,
      'role', new.role,
      'display_name', new.display_name,
      'created_at', new.created_at));
  end if;
  return null;
end
$$;

-- An attempt is usually scored by the BEFORE trigger on its transcript upload, an UPDATE that
-- does not name `status`, so these watch every insert/update and filter in WHEN.
create trigger webhook_attempt_scored_on_insert after insert on public.scenario_attempts
  for each row when (new.status = 'scored')
  execute function private.webhook_on_attempt_scored();
create trigger webhook_attempt_scored_on_update after update on public.scenario_attempts
  for each row when (new.status = 'scored' and old.status is distinct from 'scored')
  execute function private.webhook_on_attempt_scored();
create trigger webhook_assignment_created after insert on public.assignments
  for each row execute function private.webhook_on_assignment_created();
create trigger webhook_member_added after insert on public.org_members
  for each row execute function private.webhook_on_member_added();

-- Row level security ---------------------------------------------------------------------------
alter table public.webhooks enable row level security;
alter table public.webhook_deliveries enable row level security;

revoke all on public.webhooks, public.webhook_deliveries from anon, authenticated;
grant select, insert, update, delete on public.webhooks, public.webhook_deliveries to service_role;
-- No client writes the secret, the failure bookkeeping or who created the endpoint.
grant select, delete on public.webhooks to authenticated;
grant insert (id, org_id, url, description, events, enabled) on public.webhooks to authenticated;
grant update (url, description, events, enabled) on public.webhooks to authenticated;
-- The delivery log is read-only for clients; redeliver_webhook() is their only write.
grant select on public.webhook_deliveries to authenticated;

-- Endpoints and their secrets belong to the org's admins; nobody else sees that they exist.
create policy webhooks_select_admin on public.webhooks for select to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy webhooks_insert_admin on public.webhooks for insert to authenticated
  with check (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
create policy webhooks_update_admin on public.webhooks for update to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
  with check (org_id = (select private.current_org_id()));
create policy webhooks_delete_admin on public.webhooks for delete to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));
-- The delivery log (payloads included) is for the same admins.
create policy webhook_deliveries_select_admin on public.webhook_deliveries for select
  to authenticated
  using (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')));

-- Function privileges --------------------------------------------------------------------------
-- Public functions are executable by every API role by default on Supabase: revoke first.
revoke execute on function
  public.enqueue_webhook(text, jsonb),
  public.claim_webhook_deliveries(text, int),
  public.record_webhook_attempt(uuid, int, text, text, int),
  public.reap_webhook_deliveries(interval),
  public.rotate_webhook_secret(uuid),
  public.redeliver_webhook(uuid)
  from public, anon, authenticated;
revoke execute on function
  private.webhook_event_types(),
  private.assert_webhook_url(text),
  private.assert_webhook_events(text[]),
  private.new_webhook_secret(),
  private.webhook_enabled_changed(),
  private.webhook_park_deliveries(),
  private.webhook_retry_delay(int, double precision),
  private.org_has_webhook_for(uuid, text),
  private.enqueue_webhook_for_org(uuid, text, jsonb),
  private.webhook_note_result(uuid, boolean),
  private.caller_is_service(),
  private.webhook_on_attempt_scored(),
  private.webhook_on_assignment_created(),
  private.webhook_on_member_added()
  from public;

-- The dispatcher and server jobs.
grant execute on function
  public.enqueue_webhook(text, jsonb),
  public.claim_webhook_deliveries(text, int),
  public.record_webhook_attempt(uuid, int, text, text, int),
  public.reap_webhook_deliveries(interval),
  public.rotate_webhook_secret(uuid),
  public.redeliver_webhook(uuid),
  private.webhook_retry_delay(int, double precision),
  private.enqueue_webhook_for_org(uuid, text, jsonb),
  private.webhook_note_result(uuid, boolean)
  to service_role;
-- Admins: both check the caller's org and role themselves.
grant execute on function public.rotate_webhook_secret(uuid), public.redeliver_webhook(uuid)
  to authenticated;
-- What an admin's own INSERT/UPDATE evaluates (constraints, the secret's default): pure
-- validation and random bytes, nothing that reads data.
grant execute on function
  private.webhook_event_types(),
  private.assert_webhook_url(text),
  private.assert_webhook_events(text[]),
  private.new_webhook_secret()
  to authenticated, service_role;
