-- Recordings and transcripts are evidence of an attempt: once stored, the member who made them
-- cannot overwrite or replace them, and every removal (an admin, or the retention job as the
-- service role) leaves an audit row.
--
-- The storage update policy lets members upsert in their own folder, which a retry after a lost
-- answer needs (sync/uploads.py re-sends the same bytes with upsert). So the rule is on the
-- content, not the statement: an API role may rewrite an evidence object's row only with the
-- same bytes (eTag and size) and type. Deleting stays the delete policy's business (admins and
-- the service role; 20261125000800_storage.sql); this migration makes each deletion visible.

-- Append-only: nobody updates or deletes an audit row, not even the service role; readable by
-- the service role only (support and compliance read it server-side).
create table private.evidence_audit (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  action text not null check (action in ('removed')),
  bucket_id text not null,
  object_name text not null,
  org_id uuid,
  actor_id uuid,
  actor_role text not null,
  object_metadata jsonb
);
comment on table private.evidence_audit is
  'Append-only record of every removal of a recording or transcript: who (actor_id = auth.uid(), '
  'null for the service role; actor_role = the API role, or the login role of a job without '
  'claims), when, which object, and the '
  'metadata (eTag, size, type) of what was removed.';
revoke all on private.evidence_audit from public, anon, authenticated;
grant select on private.evidence_audit to service_role;

create or replace function private.refuse_audit_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'the evidence audit is append-only' using errcode = 'insufficient_privilege';
end
$$;
revoke execute on function private.refuse_audit_change() from public, anon, authenticated;
create trigger append_only before update or delete or truncate on private.evidence_audit
  for each statement execute function private.refuse_audit_change();

-- A member's rewrite of an evidence object: only the same content (an idempotent re-send).
create or replace function private.guard_evidence_object() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated')
     and (new.bucket_id <> old.bucket_id or new.name <> old.name
          or new.metadata ->> 'eTag' is distinct from old.metadata ->> 'eTag'
          or new.metadata ->> 'size' is distinct from old.metadata ->> 'size'
          or new.metadata ->> 'mimetype' is distinct from old.metadata ->> 'mimetype') then
    raise exception '%/% is evidence of an attempt and cannot be overwritten or replaced',
      old.bucket_id, old.name
      using errcode = 'insufficient_privilege',
            hint = 'Only the same bytes may be sent again; an admin removes evidence.';
  end if;
  return new;
end
$$;
revoke execute on function private.guard_evidence_object() from public, anon, authenticated;
create trigger guard_evidence before update on storage.objects
  for each row when (old.bucket_id in ('recordings', 'transcripts'))
  execute function private.guard_evidence_object();

-- Security definer: the admin deleting through the API may not write private tables itself.
create or replace function private.audit_evidence_removal() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into private.evidence_audit (action, bucket_id, object_name, org_id, actor_id,
                                      actor_role, object_metadata)
  values ('removed', old.bucket_id, old.name, private.try_uuid((storage.foldername(old.name))[1]),
          auth.uid(), coalesce(auth.role(), session_user::text), old.metadata);
  return old;
end
$$;
revoke execute on function private.audit_evidence_removal() from public, anon, authenticated;
create trigger audit_evidence_removal after delete on storage.objects
  for each row when (old.bucket_id in ('recordings', 'transcripts'))
  execute function private.audit_evidence_removal();

-- An uploaded attempt keeps the files it points at: a member may set a path that was empty
-- (the first upload) but not point an uploaded or scored attempt at other files.
create or replace function private.guard_evidence_paths() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') and old.status in ('uploaded', 'scored')
     and ((old.recording_path is not null
           and new.recording_path is distinct from old.recording_path)
          or (old.transcript_path is not null
              and new.transcript_path is distinct from old.transcript_path)) then
    raise exception 'attempt % is uploaded: its recording and transcript cannot be replaced',
      old.id using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;
revoke execute on function private.guard_evidence_paths() from public, anon, authenticated;
create trigger guard_evidence_paths before update of recording_path, transcript_path
  on public.scenario_attempts
  for each row execute function private.guard_evidence_paths();
