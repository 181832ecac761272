-- An export file is readable by the roles that may ask for its kind (issue 20, item 7). The
-- exports bucket's select rule let every manager read every file of the org's exports, so
-- the assignments CSV and the weekly zip (which holds it), which only admins and hr may ask
-- for (20261205000300, 20261205000310), were still a Storage API call away for a manager.
-- Files sit at {org_id}/{kind}/... (server/exports/job.py): managers read attempts,
-- leaderboard and the monthly reports zip (attempts and leaderboard only); admins and hr
-- read all of them. Everything else is as 20261205000600 left it.

-- The folders a manager reads; one place for the policy and can_read_object.
create or replace function private.exports_folder_for_managers(object_name text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select (storage.foldername(object_name))[2] in ('attempts', 'leaderboard', 'reports')
$$;
revoke execute on function private.exports_folder_for_managers(text) from public, anon;
grant execute on function private.exports_folder_for_managers(text) to authenticated, service_role;

drop policy objects_select on storage.objects;
create policy objects_select on storage.objects for select to authenticated
  using (
    (storage.foldername(objects.name))[1] = (select private.current_org_id())::text
    and (
      (bucket_id in ('recordings', 'transcripts', 'tmp')
       and (storage.foldername(objects.name))[2] = (select auth.uid())::text)
      or (bucket_id in ('recordings', 'transcripts')
          and (select private.has_org_role('manager', 'admin', 'hr')))
      or bucket_id = 'org-assets'
      or (bucket_id = 'scenario-assets'
          and ((select private.has_org_role('admin'))
               or private.scenario_asset_published(objects.name)))
      or (bucket_id = 'exports'
          and ((select private.has_org_role('admin', 'hr'))
               or ((select private.has_org_role('manager'))
                   and private.exports_folder_for_managers(objects.name))))
    )
  );

-- The select policy above, for one object (grant_signed_url asks it).
create or replace function private.can_read_object(bucket text, object_name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select (storage.foldername(object_name))[1] = private.current_org_id()::text
     and (
       (bucket in ('recordings', 'transcripts', 'tmp')
        and (storage.foldername(object_name))[2] = auth.uid()::text)
       or (bucket in ('recordings', 'transcripts')
           and private.has_org_role('manager', 'admin', 'hr'))
       or bucket = 'org-assets'
       or (bucket = 'scenario-assets'
           and (private.has_org_role('admin') or private.scenario_asset_published(object_name)))
       or (bucket = 'exports'
           and (private.has_org_role('admin', 'hr')
                or (private.has_org_role('manager')
                    and private.exports_folder_for_managers(object_name))))
     )
$$;
