-- The sync watermark ignores transactions of other databases.
--
-- pg_snapshot_xmin() is the oldest transaction still running in the whole cluster. A long
-- transaction in another database of the same cluster (another project's, a test's, a
-- maintenance job's) can never write this database's rows, yet it held every org's pull cursor
-- back for as long as it ran. Transactions of this database are still waited for: their rows
-- may commit behind the cursor (sync/pull.py); the API roles' statement timeouts
-- (20261203000330) bound how long a client's can last.
--
-- Which database a running transaction belongs to: every transaction holds an exclusive lock
-- on its own id (pg_locks, readable by every role), taken by the backend whose pg_stat_activity
-- row names its database. A running id whose lock is not found (just assigned, prepared, or
-- finished meanwhile) counts as this database's: the answer can only be too low, never too high.
create or replace function public.sync_watermark() returns bigint
language sql stable
set search_path = ''
as $$
  with snap as (select pg_catalog.pg_current_snapshot() as s),
  elsewhere as (
    select l.transactionid
    from pg_catalog.pg_locks l
    join pg_catalog.pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'transactionid' and l.mode = 'ExclusiveLock' and l.granted
      and a.datid is distinct from (select d.oid from pg_catalog.pg_database d
                                    where d.datname = pg_catalog.current_database())
  )
  select coalesce(
    (select min(x.x::text::bigint)
     from pg_catalog.pg_snapshot_xip(snap.s) as x (x)
     where not exists (select 1 from elsewhere e where e.transactionid = x.x::text::xid)),
    pg_catalog.pg_snapshot_xmax(snap.s)::text::bigint)
  from snap
$$;
comment on function public.sync_watermark() is
  'Highest sync_xid a pull may advance its cursor to without missing a late commit.';
