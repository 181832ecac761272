-- Scoring leaves the upload's statement: an uploaded transcript is queued, and a worker scores.
--
-- Until now a BEFORE trigger scored every attempt inside the INSERT that uploaded it (~2.4 ms of
-- Postgres per ten-minute transcript), so a device pushing a week of offline calls in 200-row
-- upserts waited ~0.5 s per request for scoring it does not need to wait for: the client keeps
-- its provisional score until the server's arrives by pull. Now the upload only queues the
-- attempt (private.scoring_queue, one row per attempt, a NOTIFY on channel coachdesk_scoring),
-- and private.score_queued() scores the queue in batches, with the rights of the service role:
--   * the local stack's scoring worker (server/scoring.py) LISTENs and drains within
--     milliseconds of the upload's commit, and polls every few seconds for what it missed;
--   * pg_cron, where this database can use it (hosted Supabase), drains every 10 seconds.
-- Both may run at once: a batch claims its rows with FOR UPDATE SKIP LOCKED.
--
-- Scoring writes the attempt with an UPDATE (kpis, score, score_breakdown, scored_at, status
-- 'scored'), so everything keyed to that change still happens: sync_xid moves (clients pull the
-- score), the attempt.scored, assignment.completed and track.completed webhooks fire (their
-- AFTER UPDATE triggers), and reporting picks the attempt up. score_attempt(uuid) still scores
-- one attempt at once, on demand.

create table private.scoring_queue (
  attempt_id uuid primary key references public.scenario_attempts (id) on delete cascade,
  queued_at timestamptz not null default clock_timestamp()
);
comment on table private.scoring_queue is
  'Attempts whose transcript arrived or changed and that private.score_queued() has not scored yet.';
alter table private.scoring_queue enable row level security;
create index scoring_queue_queued_at_idx on private.scoring_queue (queued_at);

drop trigger score_on_transcript on public.scenario_attempts;
drop function private.score_on_transcript();

-- AFTER, so the row exists for the foreign key; SECURITY DEFINER, as uploaders cannot reach the
-- private queue. NOTIFY is sent at commit, once per transaction however many rows it queued.
create or replace function private.queue_for_scoring() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into private.scoring_queue (attempt_id) values (new.id)
  on conflict (attempt_id) do update set queued_at = excluded.queued_at;
  perform pg_catalog.pg_notify('coachdesk_scoring', '');
  return null;
end
$$;
revoke execute on function private.queue_for_scoring() from public, anon, authenticated;

create trigger queue_for_scoring_on_insert after insert on public.scenario_attempts
  for each row when (new.transcript is not null)
  execute function private.queue_for_scoring();
-- A retried upsert re-sends the same transcript: nothing to score again.
create trigger queue_for_scoring_on_update after update of transcript on public.scenario_attempts
  for each row when (new.transcript is not null and new.transcript is distinct from old.transcript)
  execute function private.queue_for_scoring();

-- Score up to `max_attempts` queued attempts, oldest first; returns how many it took off the
-- queue (fewer than asked: the queue is empty, or other drainers hold the rest). Each is scored
-- by score_attempt() acting as the service role, so there is one scoring path. An attempt that
-- cannot be scored (its scenario's rubric bypassed validation, or scoring raised) leaves the
-- queue unscored with a warning, as the upload did before: score_attempt() names the problem
-- when someone asks for that score, and a fixed rubric is applied by calling it.
create or replace function private.score_queued(max_attempts int default 100) returns int
language plpgsql security definer
set search_path = ''
as $$
declare
  claimed uuid[];
  queued uuid;
  caller_claims text := current_setting('request.jwt.claims', true);
begin
  with picked as (
    select q.attempt_id from private.scoring_queue q
    order by q.queued_at
    limit greatest(max_attempts, 1)
    for update skip locked
  ), taken as (
    delete from private.scoring_queue q using picked
    where q.attempt_id = picked.attempt_id
    returning q.attempt_id
  )
  select coalesce(array_agg(taken.attempt_id), '{}') into claimed from taken;

  -- As the service role for score_attempt's visibility rule (pg_cron's `postgres` is no
  -- superuser on hosted Supabase); the caller's claims are put back below.
  perform pg_catalog.set_config('request.jwt.claims', '{"role": "service_role"}', true);
  foreach queued in array claimed loop
    begin
      perform public.score_attempt(queued);
    exception when others then
      raise warning 'attempt % left unscored: %', queued, sqlerrm;
    end;
  end loop;
  perform pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true);
  return cardinality(claimed);
end
$$;
comment on function private.score_queued(int) is
  'Scores up to max_attempts queued attempts (oldest first); returns how many it took off the queue.';
revoke execute on function private.score_queued(int) from public, anon, authenticated;
grant usage on schema private to service_role;
grant execute on function private.score_queued(int) to service_role;

-- Attempts uploaded before this migration were scored on arrival; nothing to queue for them.

-- Schedule ------------------------------------------------------------------------------------
-- Every 10 seconds with pg_cron 1.5+ (hosted Supabase); every minute where only cron syntax is
-- understood (pg_cron 1.4, Debian's for Postgres 15). Under the same conditions as
-- refresh_reporting()'s schedule. The local stack's worker does not need it; both draining at
-- once is safe.
do $$
declare
  cron_db text := current_setting('cron.database_name', true);
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron') then
      raise notice 'pg_cron is not installed: score_queued() is not scheduled';
      return;
    elsif cron_db is distinct from current_database() then
      raise notice 'pg_cron serves database "%", not "%": score_queued() is not scheduled',
        coalesce(cron_db, '(pg_cron not preloaded)'), current_database();
      return;
    end if;
  end if;
  begin
    create extension if not exists pg_cron;
    begin
      perform cron.schedule('coachdesk-score-queued', '10 seconds',
                            'select private.score_queued(500)');
    exception when others then  -- "invalid schedule": an interval needs pg_cron 1.5
      perform cron.schedule('coachdesk-score-queued', '* * * * *',
                            'select private.score_queued(500)');
    end;
  exception when others then
    raise notice 'pg_cron could not be used here (%): score_queued() is not scheduled', sqlerrm;
  end;
end
$$;
