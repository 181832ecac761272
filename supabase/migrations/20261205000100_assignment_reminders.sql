-- Reminders (issue 20, item 8): a manager reminds the people of an assignment who have not
-- passed it yet; each gets a notification that their next sync brings to their home, and
-- dismissing it (read_at) goes back through their outbox, so it works offline.
--
-- public.notifications is synced like assignments (touch_row stamps updated_at and sync_xid; a
-- deletion, which only comes with its assignment, its recipient's membership or the org, leaves
-- a tombstone for the recipient). Nobody inserts one directly: remind_assignment() checks the
-- caller manages the assignment, who is still assigned and not passed, and the rate limit.
--
-- Not in the audit log: the log records admin actions (membership, teams, webhooks, content,
-- evidence: 20261204000100_org_audit_log.sql); managers' own work on assignments (assigning,
-- rescheduling, withdrawing) is no event there, and a reminder is of that kind. The
-- notification row itself keeps who reminded whom, when and with which note.
--
-- Error codes (CD + the HTTP status it means, as CD402, CD409, CD412 and CD423 before):
--   CD409  conflict: the person chosen has already passed the assignment, or everyone has.
--   CD429  too many requests: a person was reminded of this assignment less than an hour ago
--          (the hint says when they can be reminded again; the detail names them).

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.orgs (id) on delete cascade,
  -- The recipient.
  user_id uuid not null,
  kind text not null check (kind in ('assignment.reminder')),
  assignment_id uuid,
  message text not null default '' check (length(message) <= 500),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  -- When the recipient dismissed it (their device's time, never in the future); NULL: unread.
  read_at timestamptz,
  updated_at timestamptz not null default now(),
  sync_xid bigint not null default 0,
  constraint notifications_reminder_names_assignment
    check (kind <> 'assignment.reminder' or assignment_id is not null),
  foreign key (org_id, user_id) references public.org_members (org_id, user_id) on delete cascade,
  foreign key (assignment_id, org_id) references public.assignments (id, org_id) on delete cascade
);
comment on table public.notifications is
  'What a member is told at their next sync (a manager''s reminder of an assignment); the '
  'recipient reads and dismisses their own. Written by remind_assignment() only.';
create index notifications_org_id_sync_xid_idx on public.notifications (org_id, sync_xid);
create index notifications_org_id_user_id_idx on public.notifications (org_id, user_id);
-- The rate limit's question: the last reminder of this assignment to this person.
create index notifications_assignment_id_user_id_created_at_idx
  on public.notifications (assignment_id, org_id, user_id, created_at desc);
create index notifications_created_by_idx on public.notifications (created_by);

create trigger touch before insert or update on public.notifications
  for each row execute function private.touch_row();
create trigger stamp_actor before insert or update on public.notifications
  for each row execute function private.stamp_actor('created_by');

-- The recipient's update may only dismiss: a read_at once set stays (a second dismissal from
-- another device changes nothing), and a time in the future becomes now().
create or replace function private.guard_notification_read() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    new.read_at := case
      when old.read_at is not null then old.read_at
      when new.read_at is not null then least(new.read_at, now())
    end;
  end if;
  return new;
end
$$;
revoke execute on function private.guard_notification_read() from public, anon, authenticated;
create trigger guard_read before update on public.notifications
  for each row execute function private.guard_notification_read();

-- Tombstones: the recipient learns of a deletion (private.note_deleted_rows, as assignments).
alter table public.deleted_rows drop constraint deleted_rows_table_name_check;
alter table public.deleted_rows add constraint deleted_rows_table_name_check
  check (table_name in (
    'org_members', 'teams', 'team_members', 'scenarios', 'tracks', 'track_scenarios',
    'assignments', 'scenario_attempts', 'notifications'
  ));
create trigger sync_note_deleted after delete on public.notifications
  referencing old table as gone
  for each statement execute function private.note_deleted_rows('user_id');

-- Row level security ------------------------------------------------------------------------
alter table public.notifications enable row level security;
revoke all on public.notifications from anon, authenticated;
grant select on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
grant select, insert, update, delete on public.notifications to service_role;

-- The recipient reads their own, in their current org; managers do not read them (what a
-- manager sent is theirs to remember; what a trainee dismissed is not reported).
create policy notifications_select_own on public.notifications for select to authenticated
  using (org_id = (select private.current_org_id()) and user_id = (select auth.uid()));
-- ... and dismisses them (the column grant allows read_at only).
create policy notifications_update_own on public.notifications for update to authenticated
  using (org_id = (select private.current_org_id()) and user_id = (select auth.uid()))
  with check (org_id = (select private.current_org_id()) and user_id = (select auth.uid()));

-- Who has passed --------------------------------------------------------------------------------
-- Has the user passed every scenario of the assignment? As the client judges it (sync
-- cache_queries.best_scores, cache_records.due_from_row): per scenario, a scored attempt on
-- any version of it (its lineage) at or above the assignment's required score, else that
-- scenario's pass score. Attempts under other assignments, or none, count too. Only the
-- server's scores count here: a call scored only on its device is not passed yet.
create or replace function private.assignment_passed(assignment public.assignments, member uuid)
returns boolean
language sql stable
set search_path = ''
as $$
  with wanted as (
    select s.id, s.lineage_id, s.pass_score
    from public.scenarios s
    where s.org_id = assignment.org_id
      and (s.id = assignment.scenario_id
           or s.id in (select ts.scenario_id from public.track_scenarios ts
                       where ts.org_id = assignment.org_id and ts.track_id = assignment.track_id))
  )
  select exists (select 1 from wanted)
     and not exists (
       select 1 from wanted w
       where not exists (
         select 1
         from public.scenario_attempts a
         join public.scenarios tried on tried.id = a.scenario_id
         where a.org_id = assignment.org_id and a.user_id = member and a.status = 'scored'
           and tried.lineage_id = w.lineage_id
           and a.score >= coalesce(assignment.required_score, w.pass_score)
       )
     )
$$;
revoke execute on function private.assignment_passed(public.assignments, uuid)
  from public, anon, authenticated;

-- The people an assignment is addressed to now: its person, or its team's current members.
create or replace function private.assigned_people(assignment public.assignments)
returns setof uuid
language sql stable
set search_path = ''
as $$
  select assignment.user_id where assignment.user_id is not null
  union
  select tm.user_id from public.team_members tm
  where tm.org_id = assignment.org_id and tm.team_id = assignment.team_id
$$;
revoke execute on function private.assigned_people(public.assignments)
  from public, anon, authenticated;

-- Reminding -------------------------------------------------------------------------------------
-- Remind `user_ids` (NULL: everyone assigned who has not passed) of an assignment of the
-- caller's current org, with an optional note. Managers and admins of the org only, as the
-- assignment's update policy says; an assignment of another org reads as absent (42501 both).
-- Chosen people must be assigned (22023) and not passed (CD409), and not reminded of it in
-- the last hour (CD429). With everyone, those reminded in the last hour are left out, and it
-- is CD429 only when that leaves nobody. SECURITY DEFINER: nobody may insert notifications.
create or replace function public.remind_assignment(
  assignment_id uuid,
  user_ids uuid[] default null,
  note text default ''
) returns setof public.notifications
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  org uuid := private.current_org_id();
  target public.assignments;
  assigned uuid[];
  chosen uuid[];
  pending uuid[];
  recent uuid[];
  next_at timestamptz;
  stranger uuid;
begin
  if org is null or not private.has_org_role('manager', 'admin') then
    raise exception 'only managers and admins of the org remind people of assignments'
      using errcode = 'insufficient_privilege';
  end if;
  -- The row lock serialises two reminders of one assignment, so the hour holds.
  select a.* into target from public.assignments a
  where a.id = remind_assignment.assignment_id and a.org_id = org
  for no key update;
  if not found then
    raise exception 'assignment % is not one of this org''s', remind_assignment.assignment_id
      using errcode = 'insufficient_privilege';
  end if;
  if length(coalesce(note, '')) > 500 then
    raise exception 'the note is % characters long; a reminder''s note has at most 500',
      length(note) using errcode = 'invalid_parameter_value';
  end if;

  assigned := array(select private.assigned_people(target));
  chosen := case when user_ids is null then assigned
                 else array(select distinct u from unnest(user_ids) as u where u is not null)
            end;
  if user_ids is not null and cardinality(chosen) = 0 then
    raise exception 'choose someone to remind' using errcode = 'invalid_parameter_value';
  end if;
  select u into stranger from unnest(chosen) as u where u <> all (assigned) limit 1;
  if found then
    raise exception 'user % is not assigned this', stranger
      using errcode = 'invalid_parameter_value';
  end if;

  pending := array(select u from unnest(chosen) as u where not private.assignment_passed(target, u));
  if user_ids is not null and cardinality(pending) < cardinality(chosen) then
    raise exception 'someone chosen has already passed this assignment'
      using errcode = 'CD409',
            detail = array_to_string(array(select u::text from unnest(chosen) as u
                                           where u <> all (pending)), ',');
  elsif cardinality(pending) = 0 then
    raise exception 'everyone assigned has passed this assignment; there is nobody to remind'
      using errcode = 'CD409';
  end if;

  select array_agg(n.user_id), max(n.created_at) + interval '1 hour' into recent, next_at
  from public.notifications n
  where n.assignment_id = target.id and n.org_id = org and n.user_id = any (pending)
    and n.kind = 'assignment.reminder' and n.created_at > now() - interval '1 hour';
  if recent is not null and (user_ids is not null or cardinality(recent) = cardinality(pending)) then
    raise exception 'already reminded of this assignment in the last hour'
      using errcode = 'CD429',
            detail = array_to_string(recent, ','),
            hint = 'Remind them again after '
                   || to_char(next_at at time zone 'UTC', 'HH24:MI "UTC"') || '.';
  end if;

  return query
  with made as (
    insert into public.notifications (org_id, user_id, kind, assignment_id, message, created_by)
    select org, u, 'assignment.reminder', target.id, btrim(coalesce(note, '')), auth.uid()
    from unnest(pending) as u
    where u <> all (coalesce(recent, '{}'))
    returning *
  )
  select * from made;
end
$$;
comment on function public.remind_assignment(uuid, uuid[], text) is
  'Remind people (NULL: everyone not yet passed) of an assignment of the current org, once an '
  'hour per person at most (CD429). Managers and admins only; returns the notifications made.';
revoke execute on function public.remind_assignment(uuid, uuid[], text) from public, anon;
grant execute on function public.remind_assignment(uuid, uuid[], text)
  to authenticated, service_role;
