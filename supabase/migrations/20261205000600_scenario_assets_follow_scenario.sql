-- Briefing attachments follow their scenario (issue 19, item 6): a scenario's files in the
-- scenario-assets bucket ({org_id}/{scenario_id}/{file}) were readable by every member of the
-- org, so a trainee could read a draft's briefing through the Storage API before it was
-- published. Now a member reads a scenario asset only when the scenario it belongs to is
-- published; admins (who author drafts) read all of their org's. Writing stays the admins'
-- (20261125000800_storage.sql). Archived versions' files stay the admins': nobody practises an
-- archived version, and its successor carries copies of its files (the studio copies them).
--
-- The select policy states the rule inline and private.can_read_object once more for
-- grant_signed_url; tests/db/test_storage_policies.py checks that they agree.

-- Is `object_name` ({org}/{scenario}/...) the file of a published scenario of the caller's org?
-- SECURITY INVOKER (no new door past RLS): the caller's scenarios policy shows every member the
-- org's published scenarios, which is all this asks; the org is the caller's (their claim,
-- checked against membership by current_org_id).
create or replace function private.scenario_asset_published(object_name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select exists (
    select 1
    from public.scenarios s
    where s.org_id = private.current_org_id()
      and s.status = 'published'
      and s.id::text = (storage.foldername(object_name))[2]
  )
$$;
revoke execute on function private.scenario_asset_published(text) from public, anon;
grant execute on function private.scenario_asset_published(text) to authenticated, service_role;

-- Members read: their own files of the per-user buckets; managers, admins and hr the org's
-- recordings and transcripts; everyone the org's logo and the published scenarios' files,
-- admins all scenario files; managers, admins and hr the exports.
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
      or (bucket_id = 'exports' and (select private.has_org_role('manager', 'admin', 'hr')))
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
       or (bucket = 'exports' and private.has_org_role('manager', 'admin', 'hr'))
     )
$$;
