-- Sync support: tombstones, so offline clients learn which rows were deleted.
--
-- Clients pull changed rows by sync_xid (private.touch_row) and never advance their cursor past
-- public.sync_watermark(); a deleted row leaves no row to carry a sync_xid, so every synced
-- table notes its deletions here, stamped the same way. Design and conflict policy: docs/sync.md.

create table public.deleted_rows (
  id bigint generated always as identity primary key,
  -- No foreign key to orgs: deleting an org cascades into the synced tables, whose triggers
  -- write here in the same statement, and a reference to the org being deleted would fail.
  org_id uuid not null,
  table_name text not null check (table_name in (
    'org_members', 'teams', 'team_members', 'scenarios', 'tracks', 'track_scenarios',
    'assignments', 'scenario_attempts'
  )),
  row_id uuid not null,
  -- The member a personal row belonged to (an attempt, an assignment to one person): only they
  -- and the org's managers, admins and hr learn of its deletion. NULL: the whole org.
  owner_id uuid,
  -- The team an assignment to a team was for: only that team's members learn of its deletion.
  team_id uuid,
  -- A draft scenario or track: trainees never saw it, so they are not told it is gone.
  draft boolean not null default false,
  -- The deleting transaction, exactly as touch_row stamps a write, so one cursor rule serves
  -- rows and tombstones.
  sync_xid bigint not null default (pg_current_xact_id()::text::bigint),
  deleted_at timestamptz not null default now()
);
comment on table public.deleted_rows is
  'Tombstones of deleted synced rows: which row of which table, by which transaction (sync_xid).';
create index deleted_rows_org_id_sync_xid_idx on public.deleted_rows (org_id, sync_xid);
create index deleted_rows_deleted_at_idx on public.deleted_rows (deleted_at);

-- Statement-level, so a cascade that removes thousands of rows writes one insert. SECURITY
-- DEFINER because whoever deletes (an admin, the service role, a cascade) cannot write here.
-- Optional arguments name the columns holding the owner of a personal row and the team of a
-- team's row; a `status` of 'draft' (scenarios, tracks) marks a tombstone trainees may not see.
create or replace function private.note_deleted_rows() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into public.deleted_rows (org_id, table_name, row_id, owner_id, team_id, draft)
  select g.org_id, tg_table_name, g.id,
         case when tg_nargs > 0 then private.try_uuid(r.doc ->> tg_argv[0]) end,
         case when tg_nargs > 1 then private.try_uuid(r.doc ->> tg_argv[1]) end,
         coalesce(r.doc ->> 'status' = 'draft', false)
  from gone g
  cross join lateral (select to_jsonb(g) as doc) as r;
  return null;
end
$$;
revoke execute on function private.note_deleted_rows() from public, anon, authenticated;

create trigger sync_note_deleted after delete on public.org_members
  referencing old table as gone
  for each statement execute function private.note_deleted_rows();
create trigger sync_note_deleted after delete on public.teams
  referencing old table as gone
  for each statement execute function private.note_deleted_rows();
create trigger sync_note_deleted after delete on public.team_members
  referencing old table as gone
  for each statement execute function private.note_deleted_rows();
create trigger sync_note_deleted after delete on public.scenarios
  referencing old table as gone
  for each statement execute function private.note_deleted_rows();
create trigger sync_note_deleted after delete on public.tracks
  referencing old table as gone
  for each statement execute function private.note_deleted_rows();
create trigger sync_note_deleted after delete on public.track_scenarios
  referencing old table as gone
  for each statement execute function private.note_deleted_rows();
create trigger sync_note_deleted after delete on public.assignments
  referencing old table as gone
  for each statement execute function private.note_deleted_rows('user_id', 'team_id');
create trigger sync_note_deleted after delete on public.scenario_attempts
  referencing old table as gone
  for each statement execute function private.note_deleted_rows('user_id');

-- Tombstones older than every client's last sync can go; a client whose last sync is older
-- than this horizon pulls everything again (docs/sync.md). For a scheduled job.
create or replace function private.prune_deleted_rows(older_than interval default '90 days')
returns int
language plpgsql volatile
set search_path = ''
as $$
declare
  removed int;
begin
  delete from public.deleted_rows d where d.deleted_at < now() - older_than;
  get diagnostics removed = row_count;
  return removed;
end
$$;
revoke execute on function private.prune_deleted_rows(interval) from public, anon, authenticated;
grant execute on function private.prune_deleted_rows(interval) to service_role;

-- Row level security ------------------------------------------------------------------------
alter table public.deleted_rows enable row level security;
revoke all on public.deleted_rows from anon, authenticated;
grant select on public.deleted_rows to authenticated;
grant select, delete on public.deleted_rows to service_role;

-- Managers, admins and hr learn of every deletion in their current org (they could read every
-- synced row of it); trainees of deletions of rows they could see: org-wide rows that were not
-- drafts, their own attempts and assignments, their teams' assignments (docs/security.md).
create policy deleted_rows_select_member on public.deleted_rows for select to authenticated
  using (
    org_id = (select private.current_org_id())
    and (
      (select private.has_org_role('manager', 'admin', 'hr'))
      or (
        not draft
        and (owner_id is null or owner_id = (select auth.uid()))
        and (team_id is null or team_id = any ((select private.my_team_ids())::uuid[]))
      )
    )
  );
