-- Storage: the six private buckets, who may touch which objects, and signed URLs from SQL.
--
-- Every object name starts with the id of the org it belongs to:
--   recordings, transcripts, tmp      {org_id}/{user_id}/...   the member's own files
--   org-assets, scenario-assets       {org_id}/...             content of the org
--   exports                           {org_id}/...             reports for managers and hr
-- Policies read the org and the caller's role from the same helpers as every table, so an org
-- claim is never trusted without membership.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values
  ('recordings', 'recordings', false, 200 * 1024 * 1024, array['audio/*']),
  ('transcripts', 'transcripts', false, 10 * 1024 * 1024,
   array['application/json', 'text/plain']),
  ('org-assets', 'org-assets', false, 5 * 1024 * 1024, array['image/*']),
  ('scenario-assets', 'scenario-assets', false, 50 * 1024 * 1024,
   array['image/*', 'audio/*', 'application/pdf', 'text/*']),
  ('exports', 'exports', false, 500 * 1024 * 1024,
   array['text/csv', 'application/zip', 'application/json']),
  ('tmp', 'tmp', false, 50 * 1024 * 1024, null)
on conflict (id) do update set
  public = excluded.public,
  file_size_limit = excluded.file_size_limit,
  allowed_mime_types = excluded.allowed_mime_types;

-- Bucket settings are not tenant data; signed-in members need them to know the limits.
create policy buckets_read on storage.buckets for select to authenticated using (true);

-- Objects ----------------------------------------------------------------------------------
-- The select rule is stated inline (init plans: one helper call per statement, not per row)
-- and once more in private.can_read_object for one-object checks; tests/db assert they agree.
create policy objects_select on storage.objects for select to authenticated
  using (
    (storage.foldername(objects.name))[1] = (select private.current_org_id())::text
    and (
      (bucket_id in ('recordings', 'transcripts', 'tmp')
       and (storage.foldername(objects.name))[2] = (select auth.uid())::text)
      or (bucket_id in ('recordings', 'transcripts')
          and (select private.has_org_role('manager', 'admin', 'hr')))
      or bucket_id in ('org-assets', 'scenario-assets')
      or (bucket_id = 'exports' and (select private.has_org_role('manager', 'admin', 'hr')))
    )
  );

-- Members write only their own folder of the per-user buckets; admins manage the org's
-- content; managers and hr write exports. Updates are what an upload with upsert needs.
create policy objects_insert on storage.objects for insert to authenticated
  with check (
    (storage.foldername(objects.name))[1] = (select private.current_org_id())::text
    and (
      (bucket_id in ('recordings', 'transcripts', 'tmp')
       and (storage.foldername(objects.name))[2] = (select auth.uid())::text)
      or (bucket_id in ('org-assets', 'scenario-assets') and (select private.has_org_role('admin')))
      or (bucket_id = 'exports' and (select private.has_org_role('manager', 'admin', 'hr')))
    )
  );
create policy objects_update on storage.objects for update to authenticated
  using (
    (storage.foldername(objects.name))[1] = (select private.current_org_id())::text
    and (
      (bucket_id in ('recordings', 'transcripts', 'tmp')
       and (storage.foldername(objects.name))[2] = (select auth.uid())::text)
      or (bucket_id in ('org-assets', 'scenario-assets') and (select private.has_org_role('admin')))
      or (bucket_id = 'exports' and (select private.has_org_role('manager', 'admin', 'hr')))
    )
  )
  with check (
    (storage.foldername(objects.name))[1] = (select private.current_org_id())::text
    and (
      (bucket_id in ('recordings', 'transcripts', 'tmp')
       and (storage.foldername(objects.name))[2] = (select auth.uid())::text)
      or (bucket_id in ('org-assets', 'scenario-assets') and (select private.has_org_role('admin')))
      or (bucket_id = 'exports' and (select private.has_org_role('manager', 'admin', 'hr')))
    )
  );
-- Recordings and transcripts are evidence of an attempt: only admins remove them (retention).
create policy objects_delete on storage.objects for delete to authenticated
  using (
    (storage.foldername(objects.name))[1] = (select private.current_org_id())::text
    and (
      (bucket_id = 'tmp' and (storage.foldername(objects.name))[2] = (select auth.uid())::text)
      or (select private.has_org_role('admin'))
    )
  );

-- Server-side settings that no API role may read (the storage signing secret).
create table if not exists private.settings (
  key text primary key,
  value text not null,
  updated_at timestamptz not null default now()
);
revoke all on private.settings from public, anon, authenticated;
grant select on private.settings to service_role;

comment on table private.settings is
  'Server secrets and URLs: storage_signing_secret (the project JWT secret Storage verifies '
  'signed-URL tokens with), storage_url (optional base for absolute signed URLs).';

-- May the caller read this object? The select policy above, for one object.
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
       or bucket in ('org-assets', 'scenario-assets')
       or (bucket = 'exports' and private.has_org_role('manager', 'admin', 'hr'))
     )
$$;
grant execute on function private.can_read_object(text, text) to authenticated, service_role;

create or replace function private.base64url(data bytea) returns text
language sql immutable
set search_path = ''
as $$
  select translate(rtrim(replace(encode(data, 'base64'), E'\n', ''), '='), '+/', '-_')
$$;

-- An HS256 JWT, the token format Storage's /object/sign endpoint verifies.
create or replace function private.sign_hs256(payload jsonb, secret text) returns text
language sql immutable
set search_path = ''
as $$
  with parts as (
    select private.base64url(convert_to('{"alg":"HS256","typ":"JWT"}', 'utf8'))
           || '.' || private.base64url(convert_to(payload::text, 'utf8')) as signing_input
  )
  select signing_input || '.'
         || private.base64url(extensions.hmac(convert_to(signing_input, 'utf8'),
                                              convert_to(secret, 'utf8'), 'sha256'))
  from parts
$$;
revoke execute on function private.base64url(bytea), private.sign_hs256(jsonb, text)
  from public;

-- grant_signed_url('recordings/{org}/{user}/{attempt}.flac', 300): a short-lived URL to play or
-- download one object the caller may read. The path is "<bucket>/<object name>"; ttl is clamped
-- to 10..3600 seconds. Returns Storage's signed path ("/object/sign/…?token=…", relative to the
-- Storage API, as createSignedUrl answers) or an absolute URL when private.settings has
-- storage_url.
create or replace function public.grant_signed_url(path text, ttl int default 300)
returns text
language plpgsql stable security definer
set search_path = ''
as $$
declare
  bucket text := split_part(path, '/', 1);
  object_name text := substr(path, length(split_part(path, '/', 1)) + 2);
  secret text;
  base text;
  expires_in int := least(greatest(coalesce(ttl, 300), 10), 3600);
  issued_at bigint := floor(extract(epoch from now()))::bigint;
  token text;
begin
  if path is null or object_name = '' or path like '/%' or path ~ '(^|/)\.\.?(/|$)'
     or path ~ '//' or path ~ '[[:cntrl:]]' then
    raise exception 'invalid storage path: %', coalesce(path, 'null')
      using errcode = '22023',
            hint = 'Give "<bucket>/<object name>", e.g. recordings/<org>/<user>/<attempt>.flac.';
  end if;
  if not exists (select 1 from storage.buckets b where b.id = bucket) then
    raise exception 'invalid storage path: unknown bucket "%"', bucket using errcode = '22023';
  end if;
  -- One message for "absent" and "not yours", so the answer reveals nothing about other orgs.
  if auth.role() is distinct from 'service_role' and not (
    private.can_read_object(bucket, object_name)
    and exists (select 1 from storage.objects o where o.bucket_id = bucket and o.name = object_name)
  ) then
    raise exception 'no readable object at %', path using errcode = '42501';
  end if;
  select s.value into secret from private.settings s where s.key = 'storage_signing_secret';
  if secret is null then
    raise exception 'signed URLs are not configured: private.settings has no storage_signing_secret'
      using errcode = '55000';
  end if;
  select s.value into base from private.settings s where s.key = 'storage_url';
  token := private.sign_hs256(
    jsonb_build_object('url', bucket || '/' || object_name, 'iat', issued_at,
                       'exp', issued_at + expires_in),
    secret);
  return coalesce(base, '') || '/object/sign/' || bucket || '/' || object_name
         || '?token=' || token;
end;
$$;
revoke execute on function public.grant_signed_url(text, int) from public, anon;
grant execute on function public.grant_signed_url(text, int) to authenticated, service_role;
