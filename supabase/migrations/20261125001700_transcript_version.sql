-- An attempt's transcript gets a version of its own: transcript_xid, the transaction that last
-- set or changed it.
--
-- Clients pull rows without their transcripts (the large column) and fetch a transcript apart
-- only for a version they do not hold yet. The row's version (sync_xid) is not that: since
-- scoring happens after the upload (20261125001600), the scoring UPDATE gives every uploaded
-- attempt a new sync_xid moments after its upload answered, and the uploading computer would
-- download the ~150 KB transcript it had just sent. transcript_xid changes only with the
-- transcript, so scores, statuses and paths can change without a transcript travelling again.

alter table public.scenario_attempts add column transcript_xid bigint;
comment on column public.scenario_attempts.transcript_xid is
  'Transaction that last set or changed transcript (clients fetch a transcript only for a transcript_xid they do not hold); null without a transcript.';

create or replace function private.stamp_transcript_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' or new.transcript is distinct from old.transcript then
    new.transcript_xid := case when new.transcript is null then null
                               else pg_catalog.pg_current_xact_id()::text::bigint end;
  else
    new.transcript_xid := old.transcript_xid;  -- never set by a client
  end if;
  return new;
end
$$;
revoke execute on function private.stamp_transcript_version() from public, anon, authenticated;

-- Existing transcripts: the row's version is the transcript's (a client holding that row
-- version holds that transcript). Rows keep their sync_xid: nothing to pull again for this.
-- Before the trigger exists, which would keep the old (null) value on an UPDATE.
alter table public.scenario_attempts disable trigger touch;
update public.scenario_attempts set transcript_xid = sync_xid where transcript is not null;
alter table public.scenario_attempts enable trigger touch;

create trigger stamp_transcript_version before insert or update on public.scenario_attempts
  for each row execute function private.stamp_transcript_version();
