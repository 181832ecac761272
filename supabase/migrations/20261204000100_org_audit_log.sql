-- The org audit log (issue 20, item 5): every admin action -- invitations and their outcome,
-- role changes and removals, teams and their members, webhook endpoints and secret rotations,
-- content published or archived, evidence removed -- as one append-only row in
-- public.audit_events, readable by the org's admins and hr, filterable, exportable as CSV.
--
-- Rows are written only by the SECURITY DEFINER triggers below, on the tables the actions
-- change, so every path (the API, the server's functions, the service role, a job) is recorded
-- and nobody can write an event of their choosing: no API role holds INSERT. Nobody updates or
-- deletes one either, not even the table's owner (a statement trigger refuses it, as for
-- private.evidence_audit).
--
-- Details hold the changed fields before and after, and never a secret: the webhook triggers
-- copy only named columns (never secret, previous_secret), the invitation triggers never the
-- token hash, and a check constraint refuses those keys at the top level of any event.

create type public.audit_action as enum (
  'member.added',          -- by the service role (identity or billing receiver), not an invitation
  'member.invited',
  'invitation.accepted',
  'invitation.revoked',
  'member.role_changed',
  'member.removed',
  'team.created',
  'team.renamed',
  'team.deleted',
  'team.member_added',
  'team.member_removed',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'scenario.published',
  'scenario.archived',
  'track.published',
  'track.archived',
  'recording.removed',
  'transcript.removed'
);

-- No foreign keys: the log outlives what it names. A key to orgs or auth.users would either
-- cascade (a delete, which the append-only trigger refuses) or set null (an update, refused
-- too), and the users and rows named are often gone by the time someone reads about them.
create table public.audit_events (
  id bigint generated always as identity primary key,
  org_id uuid not null,
  -- The transaction's time: every event of one action shares it; id orders them.
  occurred_at timestamptz not null default now(),
  -- auth.uid() of the request; null for the service role without a user and for jobs.
  actor_id uuid,
  -- The actor's role in the org when they acted (null when they were not a member).
  actor_role public.org_role,
  -- The API role of the request (authenticated, service_role), or the login role of a job
  -- without claims.
  acting_as text not null,
  action public.audit_action not null,
  -- What the action changed: a table of public ('org_members', 'webhooks', ...) or
  -- 'storage.objects', and the row's id.
  target_table text not null check (length(target_table) between 1 and 63),
  target_id uuid not null,
  details jsonb not null default '{}'::jsonb
    constraint audit_events_details_object check (jsonb_typeof(details) = 'object')
    constraint audit_events_details_no_secret
      check (not details ?| array['secret', 'previous_secret', 'token', 'token_hash'])
);
comment on table public.audit_events is
  'Append-only log of admin actions per org (who, their role, when, what, on which row, the '
  'fields before and after, never secrets). Written only by triggers; read by admins and hr.';
comment on column public.audit_events.details is
  'The changed fields ({"before": {...}, "after": {...}}) and what names the target '
  '(email, title, url, user_id); never a secret or token.';
-- The screen and the CSV export: one org, newest first, keyset-paged by (occurred_at, id).
create index audit_events_org_id_occurred_at_idx
  on public.audit_events (org_id, occurred_at desc, id desc);

-- Append-only -----------------------------------------------------------------------------------
create or replace function private.refuse_audit_event_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'the audit log is append-only: events cannot be changed or removed'
    using errcode = 'insufficient_privilege';
end
$$;
revoke execute on function private.refuse_audit_event_change() from public, anon, authenticated;
create trigger append_only before update or delete or truncate on public.audit_events
  for each statement execute function private.refuse_audit_event_change();

alter table public.audit_events enable row level security;
revoke all on public.audit_events from public, anon, authenticated, service_role;
grant select on public.audit_events to authenticated, service_role;

create policy audit_events_select_admin_hr on public.audit_events for select to authenticated
  using (org_id = (select private.current_org_id())
         and (select private.has_org_role('admin', 'hr')));

-- Writing events ------------------------------------------------------------------------------
-- Called only from the SECURITY DEFINER triggers below (as their owner); no API role may
-- execute it. `role_then` is the actor's role when the trigger knows it better than the
-- membership table does now (a member who changed or removed their own membership).
create or replace function private.write_audit_event(
  org uuid,
  what public.audit_action,
  target_table text,
  target_id uuid,
  details jsonb,
  role_then public.org_role default null
) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  actor uuid := auth.uid();
  actor_role public.org_role := role_then;
begin
  if actor is not null and actor_role is null then
    select m.role into actor_role
    from public.org_members m
    where m.org_id = write_audit_event.org and m.user_id = actor;
  end if;
  insert into public.audit_events (org_id, actor_id, actor_role, acting_as, action, target_table,
                                   target_id, details)
  values (org, actor, actor_role, coalesce(auth.role(), session_user::text), what,
          write_audit_event.target_table, write_audit_event.target_id,
          coalesce(write_audit_event.details, '{}'::jsonb));
end
$$;
revoke execute on function
  private.write_audit_event(uuid, public.audit_action, text, uuid, jsonb, public.org_role)
  from public, anon, authenticated, service_role;

-- Rows that disappear with their org (its deletion cascades) or their team are not admin
-- actions of their own: the org's deletion, or team.deleted, is the event.
create or replace function private.org_exists(org uuid) returns boolean
language plpgsql stable
set search_path = ''
as $$
begin
  return exists (select 1 from public.orgs o where o.id = org);
end
$$;
revoke execute on function private.org_exists(uuid) from public, anon, authenticated;

-- Memberships ---------------------------------------------------------------------------------
create or replace function private.audit_org_member() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    -- Members add themselves only by accepting an invitation (API roles hold no INSERT, and
    -- accept_invitation inserts the caller): invitation.accepted is that event.
    if new.user_id is distinct from auth.uid() then
      perform private.write_audit_event(new.org_id, 'member.added', 'org_members', new.id,
        jsonb_build_object('user_id', new.user_id, 'role', new.role,
                           'display_name', new.display_name));
    end if;
    return null;
  elsif tg_op = 'UPDATE' then
    perform private.write_audit_event(new.org_id, 'member.role_changed', 'org_members', new.id,
      jsonb_build_object('user_id', new.user_id, 'display_name', new.display_name,
                         'before', jsonb_build_object('role', old.role),
                         'after', jsonb_build_object('role', new.role)),
      case when new.user_id = auth.uid() then old.role end);
    return null;
  end if;
  if private.org_exists(old.org_id) then
    perform private.write_audit_event(old.org_id, 'member.removed', 'org_members', old.id,
      jsonb_build_object('user_id', old.user_id, 'role', old.role,
                         'display_name', old.display_name),
      case when old.user_id = auth.uid() then old.role end);
  end if;
  return null;
end
$$;
revoke execute on function private.audit_org_member() from public, anon, authenticated;
create trigger audit_member_added after insert on public.org_members
  for each row execute function private.audit_org_member();
create trigger audit_member_role_changed after update of role on public.org_members
  for each row when (old.role is distinct from new.role)
  execute function private.audit_org_member();
create trigger audit_member_removed after delete on public.org_members
  for each row execute function private.audit_org_member();

-- Invitations ---------------------------------------------------------------------------------
-- Never the token hash; the address, role and teams are what an admin chose.
create or replace function private.audit_invitation() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  facts jsonb := jsonb_build_object('email', new.email, 'role', new.role,
                                    'team_ids', to_jsonb(new.team_ids));
  member uuid;
begin
  if tg_op = 'INSERT' then
    perform private.write_audit_event(new.org_id, 'member.invited', 'org_invitations', new.id,
      facts || jsonb_build_object('expires_at', new.expires_at));
  elsif old.accepted_at is null and new.accepted_at is not null then
    select m.id into member
    from public.org_members m
    where m.org_id = new.org_id and m.user_id = new.accepted_by;
    perform private.write_audit_event(new.org_id, 'invitation.accepted', 'org_invitations',
      new.id, facts || jsonb_build_object('user_id', new.accepted_by, 'member_id', member));
  elsif old.revoked_at is null and new.revoked_at is not null then
    perform private.write_audit_event(new.org_id, 'invitation.revoked', 'org_invitations', new.id,
      facts);
  end if;
  return null;
end
$$;
revoke execute on function private.audit_invitation() from public, anon, authenticated;
create trigger audit_invited after insert on public.org_invitations
  for each row execute function private.audit_invitation();
create trigger audit_invitation_outcome after update of accepted_at, revoked_at
  on public.org_invitations
  for each row when (old.accepted_at is distinct from new.accepted_at
                     or old.revoked_at is distinct from new.revoked_at)
  execute function private.audit_invitation();

-- Teams -----------------------------------------------------------------------------------------
create or replace function private.audit_team() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform private.write_audit_event(new.org_id, 'team.created', 'teams', new.id,
      jsonb_build_object('name', new.name));
  elsif tg_op = 'UPDATE' then
    perform private.write_audit_event(new.org_id, 'team.renamed', 'teams', new.id,
      jsonb_build_object('before', jsonb_build_object('name', old.name),
                         'after', jsonb_build_object('name', new.name)));
  elsif private.org_exists(old.org_id) then
    perform private.write_audit_event(old.org_id, 'team.deleted', 'teams', old.id,
      jsonb_build_object('name', old.name));
  end if;
  return null;
end
$$;
revoke execute on function private.audit_team() from public, anon, authenticated;
create trigger audit_team_created after insert on public.teams
  for each row execute function private.audit_team();
create trigger audit_team_renamed after update of name on public.teams
  for each row when (old.name is distinct from new.name)
  execute function private.audit_team();
create trigger audit_team_deleted after delete on public.teams
  for each row execute function private.audit_team();

-- One member joining or leaving a team. Skipped: the teams an invitee joins by accepting (the
-- invitation.accepted event names them; the membership was created in this very transaction,
-- which only acceptance does for the caller), and rows that go with their team or membership
-- (team.deleted, member.removed are the events).
create or replace function private.audit_team_member_change(what public.audit_action,
  row_doc public.team_members)
returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  team_name text;
  member_name text;
begin
  select t.name into team_name from public.teams t
  where t.id = row_doc.team_id and t.org_id = row_doc.org_id;
  select m.display_name into member_name from public.org_members m
  where m.org_id = row_doc.org_id and m.user_id = row_doc.user_id;
  if what = 'team.member_removed' and (team_name is null or member_name is null) then
    return;
  end if;
  if what = 'team.member_added' and row_doc.user_id = auth.uid()
     and exists (select 1 from public.org_members m
                 where m.org_id = row_doc.org_id and m.user_id = row_doc.user_id
                   and m.created_at = now()) then
    return;
  end if;
  perform private.write_audit_event(row_doc.org_id, what, 'team_members', row_doc.id,
    jsonb_build_object('team_id', row_doc.team_id, 'team_name', team_name,
                       'user_id', row_doc.user_id, 'display_name', member_name));
end
$$;
revoke execute on function private.audit_team_member_change(public.audit_action,
  public.team_members) from public, anon, authenticated, service_role;

create or replace function private.audit_team_member() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  -- A row moved to another team or user is one leaving and one joining.
  if tg_op in ('UPDATE', 'DELETE') then
    perform private.audit_team_member_change('team.member_removed', old);
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    perform private.audit_team_member_change('team.member_added', new);
  end if;
  return null;
end
$$;
revoke execute on function private.audit_team_member() from public, anon, authenticated;
create trigger audit_team_member_added after insert on public.team_members
  for each row execute function private.audit_team_member();
create trigger audit_team_member_moved after update of team_id, user_id on public.team_members
  for each row when ((old.team_id, old.user_id) is distinct from (new.team_id, new.user_id))
  execute function private.audit_team_member();
create trigger audit_team_member_removed after delete on public.team_members
  for each row execute function private.audit_team_member();

-- Webhooks --------------------------------------------------------------------------------------
-- Only the named columns reach the log: never secret or previous_secret. A rotation
-- (rotate_webhook_secret: a new secret) is its own event and says only until when the
-- previous secret still signs. The dispatcher disabling a failing endpoint is an update by the
-- service role (enabled, disabled_reason); its failure bookkeeping alone is no event.
create or replace function private.audit_webhook() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  old_doc jsonb;
  new_doc jsonb;
  before jsonb := '{}'::jsonb;
  after jsonb := '{}'::jsonb;
  col text;
begin
  if tg_op = 'INSERT' then
    perform private.write_audit_event(new.org_id, 'webhook.created', 'webhooks', new.id,
      jsonb_build_object('url', new.url, 'description', new.description,
                         'events', to_jsonb(new.events), 'enabled', new.enabled));
    return null;
  elsif tg_op = 'DELETE' then
    if private.org_exists(old.org_id) then
      perform private.write_audit_event(old.org_id, 'webhook.deleted', 'webhooks', old.id,
        jsonb_build_object('url', old.url, 'description', old.description,
                           'events', to_jsonb(old.events), 'enabled', old.enabled));
    end if;
    return null;
  end if;
  if new.secret is distinct from old.secret then
    perform private.write_audit_event(new.org_id, 'webhook.secret_rotated', 'webhooks', new.id,
      jsonb_build_object('url', new.url,
                         'previous_secret_expires_at', new.previous_secret_expires_at));
  end if;
  old_doc := jsonb_build_object('url', old.url, 'description', old.description,
                                'events', to_jsonb(old.events), 'enabled', old.enabled,
                                'disabled_reason', old.disabled_reason);
  new_doc := jsonb_build_object('url', new.url, 'description', new.description,
                                'events', to_jsonb(new.events), 'enabled', new.enabled,
                                'disabled_reason', new.disabled_reason);
  for col in select jsonb_object_keys(new_doc) loop
    if (old_doc -> col) is distinct from (new_doc -> col) then
      before := before || jsonb_build_object(col, old_doc -> col);
      after := after || jsonb_build_object(col, new_doc -> col);
    end if;
  end loop;
  if after <> '{}'::jsonb then
    perform private.write_audit_event(new.org_id, 'webhook.updated', 'webhooks', new.id,
      jsonb_build_object('url', new.url, 'before', before, 'after', after));
  end if;
  return null;
end
$$;
revoke execute on function private.audit_webhook() from public, anon, authenticated;
create trigger audit_webhook_created after insert on public.webhooks
  for each row execute function private.audit_webhook();
create trigger audit_webhook_changed after update on public.webhooks
  for each row when ((old.url, old.description, old.events, old.enabled, old.disabled_reason,
                      old.secret)
                     is distinct from
                     (new.url, new.description, new.events, new.enabled, new.disabled_reason,
                      new.secret))
  execute function private.audit_webhook();
create trigger audit_webhook_deleted after delete on public.webhooks
  for each row execute function private.audit_webhook();

-- Content -------------------------------------------------------------------------------------
-- A scenario or track going live (published) or out of rotation (archived), on insert or on a
-- change of status. tg_argv[0] is the action's prefix ('scenario', 'track').
create or replace function private.audit_content_status() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  was public.content_status;
begin
  if tg_op = 'UPDATE' then
    was := old.status;
  end if;
  perform private.write_audit_event(new.org_id,
    (tg_argv[0] || '.' || new.status::text)::public.audit_action, tg_table_name, new.id,
    jsonb_build_object('title', new.title,
                       'before', jsonb_build_object('status', was),
                       'after', jsonb_build_object('status', new.status)));
  return null;
end
$$;
revoke execute on function private.audit_content_status() from public, anon, authenticated;
create trigger audit_status_on_insert after insert on public.scenarios
  for each row when (new.status in ('published', 'archived'))
  execute function private.audit_content_status('scenario');
create trigger audit_status_on_update after update of status on public.scenarios
  for each row when (old.status is distinct from new.status
                     and new.status in ('published', 'archived'))
  execute function private.audit_content_status('scenario');
create trigger audit_status_on_insert after insert on public.tracks
  for each row when (new.status in ('published', 'archived'))
  execute function private.audit_content_status('track');
create trigger audit_status_on_update after update of status on public.tracks
  for each row when (old.status is distinct from new.status
                     and new.status in ('published', 'archived'))
  execute function private.audit_content_status('track');

-- Evidence removed ------------------------------------------------------------------------------
-- private.evidence_audit keeps the storage-level record (eTag, for support); this is the org's
-- own. Paths are {org_id}/{user_id}/...; an object outside any org's folder names no org to
-- log it under (the evidence audit still has it).
create or replace function private.audit_evidence_object() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  org uuid := private.try_uuid((storage.foldername(old.name))[1]);
begin
  if org is null or not private.org_exists(org) then
    return null;
  end if;
  perform private.write_audit_event(org,
    case old.bucket_id when 'recordings' then 'recording.removed'
                       else 'transcript.removed' end::public.audit_action,
    'storage.objects', old.id,
    jsonb_build_object('bucket', old.bucket_id, 'name', old.name,
                       'user_id', private.try_uuid((storage.foldername(old.name))[2]),
                       'size', old.metadata -> 'size', 'mimetype', old.metadata -> 'mimetype'));
  return null;
end
$$;
revoke execute on function private.audit_evidence_object() from public, anon, authenticated;
create trigger audit_evidence_object after delete on storage.objects
  for each row when (old.bucket_id in ('recordings', 'transcripts'))
  execute function private.audit_evidence_object();

-- Export ------------------------------------------------------------------------------------------
-- One CSV field, as server/exports/reports.py writes them (Python's csv module, minimal
-- quoting): text a spreadsheet would run as a formula gets an apostrophe (OWASP), and a field
-- with a comma, quote or line break is quoted with quotes doubled.
create or replace function private.csv_field(value text) returns text
language plpgsql immutable
set search_path = ''
as $$
declare
  text_value text := coalesce(value, '');
begin
  if left(text_value, 1) in ('=', '+', '-', '@', E'\t', E'\r') then
    text_value := '''' || text_value;
  end if;
  if text_value ~ '[",\r\n]' then
    return '"' || replace(text_value, '"', '""') || '"';
  end if;
  return text_value;
end
$$;
revoke execute on function private.csv_field(text) from public, anon;
grant execute on function private.csv_field(text) to authenticated, service_role;

-- The current org's events in [since, until) (either open), of the given actions (all when
-- null), oldest first, as CSV with a header and CRLF line ends. SECURITY INVOKER: the select
-- policy decides what is read; the role check makes a trainee's or manager's call a refusal
-- instead of an empty file.
create or replace function public.audit_log_csv(
  since timestamptz default null,
  until timestamptz default null,
  actions text[] default null
) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  org uuid := private.current_org_id();
  unknown text;
  body text;
begin
  if org is null or not private.has_org_role('admin', 'hr') then
    raise exception 'only admins and hr of the org read its audit log'
      using errcode = 'insufficient_privilege';
  end if;
  if since is not null and until is not null and since > until then
    raise exception 'since (%) is after until (%)', since, until
      using errcode = 'invalid_parameter_value';
  end if;
  select a into unknown
  from unnest(actions) as a
  where a is null or a <> all (enum_range(null::public.audit_action)::text[])
  limit 1;
  if found then
    raise exception 'unknown audit action "%"; known actions: %', unknown,
      array_to_string(enum_range(null::public.audit_action)::text[], ', ')
      using errcode = 'invalid_parameter_value';
  end if;
  select string_agg(
           concat_ws(',',
             to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
             e.action::text,
             coalesce(e.actor_id::text, ''),
             private.csv_field(m.display_name),
             coalesce(e.actor_role::text, ''),
             private.csv_field(e.acting_as),
             private.csv_field(e.target_table),
             e.target_id::text,
             private.csv_field(e.details::text)) || E'\r\n',
           '' order by e.occurred_at, e.id)
  into body
  from public.audit_events e
  left join public.org_members m on m.org_id = e.org_id and m.user_id = e.actor_id
  where e.org_id = org
    and (since is null or e.occurred_at >= since)
    and (until is null or e.occurred_at < until)
    and (actions is null or e.action::text = any (actions));
  return 'occurred_at,action,actor_id,actor_name,actor_role,acting_as,target_table,target_id,'
         'details' || E'\r\n' || coalesce(body, '');
end
$$;
comment on function public.audit_log_csv(timestamptz, timestamptz, text[]) is
  'The current org''s audit events in [since, until) of the given actions as CSV. Admins and hr only.';
revoke execute on function public.audit_log_csv(timestamptz, timestamptz, text[])
  from public, anon, service_role;
grant execute on function public.audit_log_csv(timestamptz, timestamptz, text[]) to authenticated;
