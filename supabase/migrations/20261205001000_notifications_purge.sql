-- Reminders do not pile up forever (20261205000100 left them so): a notification dismissed
-- more than 90 days ago, or sent more than a year ago whether read or not, is deleted once a
-- day. Each deletion leaves the usual tombstone (deleted_rows), so the recipient's devices
-- drop it at their next sync as they drop any row they may no longer see.
--
-- Run by pg_cron as the database owner, so no SECURITY DEFINER and no API role may call it;
-- scheduled where this database's other jobs are (the reporting refresh's condition).

create or replace function private.purge_notifications() returns integer
language sql volatile
set search_path = ''
as $$
  with gone as (
    delete from public.notifications n
    where n.read_at < now() - interval '90 days'
       or n.created_at < now() - interval '1 year'
    returning 1
  )
  select count(*)::int from gone
$$;
comment on function private.purge_notifications() is
  'Deletes notifications dismissed over 90 days ago or sent over a year ago; returns how many. Run daily by pg_cron.';
revoke execute on function private.purge_notifications() from public, anon, authenticated;
grant execute on function private.purge_notifications() to service_role;

do $$
begin
  if to_regclass('cron.job') is null then
    return;
  end if;
  if exists (select 1 from cron.job where jobname = 'coachdesk-refresh-reporting') then
    perform cron.schedule(
      'coachdesk-purge-notifications', '23 3 * * *', 'select private.purge_notifications()');
  end if;
end
$$;
