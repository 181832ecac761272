-- Compat bootstrap: what a hosted Supabase project already has, for a plain PostgreSQL 15.
--
-- Applied only to the project's own databases (tests, the local stack), never to hosted
-- Supabase, so that supabase/migrations/ applies unchanged to both. Idempotent: safe to run on
-- every start, and it brings a database bootstrapped by an older version of this file to the
-- same shape. It must never be kinder than hosted: every column, default, nullability, trigger
-- and grant of the tables below is what Supabase's own schemas have (auth server v2.196,
-- storage server v1.70, supabase/postgres 15.6); supabase/compat/hosted_schema.toml records
-- those facts and tests/db/test_compat_fidelity.py holds this file to them.

-- Supabase keeps extensions in their own schema; functions qualify them (extensions.hmac).
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

-- Roles -------------------------------------------------------------------------------------
-- anon / authenticated / service_role are the roles PostgREST switches to per request;
-- authenticator is the login role it connects as (it can only become one of them). The auth
-- and storage servers log in as their admin roles, which own their schemas' tables.
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      execute format('create role %I nologin', r);
    end if;
  end loop;
  foreach r in array array['authenticator', 'supabase_auth_admin', 'supabase_storage_admin'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      execute format('create role %I login noinherit', r);
    end if;
  end loop;
end
$$;

alter role anon nologin inherit;
alter role authenticated nologin inherit;
alter role service_role nologin inherit bypassrls;
alter role authenticator login noinherit;
alter role supabase_auth_admin login noinherit createrole;
alter role supabase_storage_admin login noinherit createrole;
grant anon, authenticated, service_role to authenticator;
grant authenticator, anon, authenticated, service_role to supabase_storage_admin;

-- Supabase's default privileges: API roles get table privileges and RLS decides rows.
-- Migrations still revoke what a role must never have (see the grants in each migration).
grant usage on schema public to anon, authenticated, service_role;
grant usage on schema extensions to anon, authenticated, service_role, supabase_auth_admin;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;

-- auth ----------------------------------------------------------------------------------------
-- The auth server creates users itself: no column below has a default it does not have (no id,
-- aud, role or instance_id defaults; metadata is nullable), so a statement that leaves one out
-- gets what it would get on hosted Supabase.
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;
grant all on schema auth to supabase_auth_admin;

create table if not exists auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text default null::character varying unique,
  phone_confirmed_at timestamptz,
  phone_change text default ''::character varying,
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);

create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);
create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);

-- A database bootstrapped before this file followed the auth server (its auth.users had an id
-- default): bring auth.users there once, and its users with it, as GoTrue would have written
-- them (a nil instance, its audience, '' tokens, an email identity), so they still sign in.
do $$
begin
  if not exists (select 1 from pg_attrdef d join pg_attribute a
                 on a.attrelid = d.adrelid and a.attnum = d.adnum
                 where d.adrelid = 'auth.users'::regclass and a.attname = 'id') then
    return;
  end if;
  alter table auth.users
    alter column id drop default,
    alter column aud drop default,
    alter column role drop default,
    alter column raw_app_meta_data drop not null,
    alter column raw_app_meta_data drop default,
    alter column raw_user_meta_data drop not null,
    alter column raw_user_meta_data drop default,
    alter column created_at drop not null,
    alter column created_at drop default,
    alter column updated_at drop not null,
    alter column updated_at drop default,
    add column if not exists invited_at timestamptz,
    add column if not exists confirmation_token varchar(255),
    add column if not exists confirmation_sent_at timestamptz,
    add column if not exists recovery_token varchar(255),
    add column if not exists recovery_sent_at timestamptz,
    add column if not exists email_change_token_new varchar(255),
    add column if not exists email_change varchar(255),
    add column if not exists email_change_sent_at timestamptz,
    add column if not exists is_super_admin boolean,
    add column if not exists phone text default null::character varying unique,
    add column if not exists phone_confirmed_at timestamptz,
    add column if not exists phone_change text default ''::character varying,
    add column if not exists phone_change_token varchar(255) default '',
    add column if not exists phone_change_sent_at timestamptz,
    add column if not exists confirmed_at timestamptz
      generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
    add column if not exists email_change_token_current varchar(255) default '',
    add column if not exists email_change_confirm_status smallint default 0
      check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
    add column if not exists reauthentication_token varchar(255) default '',
    add column if not exists reauthentication_sent_at timestamptz,
    add column if not exists is_sso_user boolean not null default false;
  alter table auth.users drop constraint if exists users_email_key;
  update auth.users set
    instance_id = coalesce(instance_id, '00000000-0000-0000-0000-000000000000'),
    aud = coalesce(aud, 'authenticated'), role = coalesce(role, 'authenticated'),
    confirmation_token = coalesce(confirmation_token, ''),
    recovery_token = coalesce(recovery_token, ''),
    email_change_token_new = coalesce(email_change_token_new, ''),
    email_change = coalesce(email_change, '');
  insert into auth.identities (provider_id, user_id, identity_data, provider, created_at,
                               updated_at)
  select u.id::text, u.id,
         jsonb_build_object('sub', u.id::text, 'email', u.email,
                            'email_verified', u.email_confirmed_at is not null,
                            'phone_verified', false),
         'email', now(), now()
  from auth.users u
  where u.email is not null and coalesce(u.encrypted_password, '') <> ''
    and not exists (select 1 from auth.identities i where i.user_id = u.id);
end
$$;
do $$
begin
  if (select format_type(atttypid, atttypmod) from pg_attribute
      where attrelid = 'auth.users'::regclass and attname = 'email') <> 'character varying(255)' then
    alter table auth.users
      alter column aud type varchar(255), alter column role type varchar(255),
      alter column email type varchar(255), alter column encrypted_password type varchar(255);
  end if;
exception when dependent_objects_still_exist or feature_not_supported then
  raise warning 'auth.users keeps an older column type (%): reset this database (coachdesk stack reset)',
    sqlerrm;
end
$$;

-- Emails are unique among non-SSO users only (a partial index: `on conflict (email)` does not
-- find it, as on hosted).
create unique index if not exists users_email_partial_key on auth.users (email)
  where (is_sso_user = false);
create index if not exists users_instance_id_email_idx on auth.users (instance_id, email);
create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);



alter table auth.users owner to supabase_auth_admin;
alter table auth.identities owner to supabase_auth_admin;
alter table auth.users enable row level security;
alter table auth.identities enable row level security;
-- The API roles get nothing on auth tables (service_role included); `postgres` may read and
-- write them, as on hosted.
revoke all on auth.users, auth.identities from anon, authenticated, service_role, public;
grant all on auth.users, auth.identities to postgres;

-- The claims PostgREST puts in `request.jwt.claims` for the current request.
create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email()
  to anon, authenticated, service_role, supabase_auth_admin;

-- storage -------------------------------------------------------------------------------------
create schema if not exists storage;
grant usage on schema storage to anon, authenticated, service_role;
grant all on schema storage to supabase_storage_admin;

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'storage' and t.typname = 'buckettype') then
    create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
  end if;
end
$$;

create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text,
  type storage.buckettype not null default 'STANDARD',
  versioning_status text not null default 'DISABLED'
    constraint buckets_versioning_status_check
      check (versioning_status in ('DISABLED', 'ENABLED', 'SUSPENDED')),
  constraint buckets_versioning_standard_only_check
    check (type = 'STANDARD' or versioning_status = 'DISABLED'),
  constraint buckets_versioning_dark_check check (versioning_status = 'DISABLED')
);

create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  owner_id text,
  user_metadata jsonb,
  archived_at timestamptz,
  is_delete_marker boolean not null default false,
  is_versioned boolean not null default false
);

-- Databases bootstrapped before this file followed the storage server.
alter table storage.buckets
  alter column public drop not null,
  alter column created_at drop not null,
  alter column updated_at drop not null,
  add column if not exists avif_autodetection boolean default false,
  add column if not exists owner_id text,
  add column if not exists type storage.buckettype not null default 'STANDARD',
  add column if not exists versioning_status text not null default 'DISABLED';
alter table storage.objects
  alter column bucket_id drop not null,
  alter column name drop not null,
  alter column created_at drop not null,
  alter column updated_at drop not null,
  alter column last_accessed_at drop not null,
  add column if not exists owner_id text,
  add column if not exists user_metadata jsonb,
  add column if not exists archived_at timestamptz,
  add column if not exists is_delete_marker boolean not null default false,
  add column if not exists is_versioned boolean not null default false;
alter table storage.buckets drop constraint if exists buckets_name_key;
alter table storage.objects drop constraint if exists objects_bucket_id_name_key;
drop index if exists storage.objects_bucket_id_idx;

create unique index if not exists bname on storage.buckets (name);
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);

alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

-- Every API role has full DML on both tables; row level security decides.
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant all on storage.buckets, storage.objects to postgres with grant option;

-- The storage server's triggers. Deleting rows directly is refused: only a transaction that
-- says it is the Storage API (storage.allow_delete_query, as the storage server sets it) may,
-- as it also removes the files.
create or replace function storage.protect_delete() returns trigger
language plpgsql
as $$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.',
            errcode = '42501';
  end if;
  return null;
end
$$;

create or replace function storage.enforce_bucket_name_length() returns trigger
language plpgsql
as $$
begin
  if length(new.name) > 100 then
    raise exception 'bucket name "%" is too long (% characters). Max is 100.',
      new.name, length(new.name);
  end if;
  return new;
end
$$;

create or replace function storage.update_updated_at_column() returns trigger
language plpgsql
as $$
begin
  new.updated_at = now();
  return new;
end
$$;

create or replace trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();
create or replace trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();
create or replace trigger enforce_bucket_name_length_trigger
  before insert or update of name on storage.buckets
  for each row execute function storage.enforce_bucket_name_length();
create or replace trigger update_objects_updated_at before update on storage.objects
  for each row execute function storage.update_updated_at_column();

-- Supabase's path helpers: folders of an object name, its file name and extension.
create or replace function storage.foldername(name text) returns text[]
language plpgsql immutable
as $$
declare
  parts text[];
begin
  parts := string_to_array(name, '/');
  return parts[1:array_length(parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable
as $$
declare
  parts text[];
begin
  parts := string_to_array(name, '/');
  return parts[array_length(parts, 1)];
end
$$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable
as $$
declare
  parts text[];
begin
  parts := string_to_array(storage.filename(name), '.');
  return parts[array_length(parts, 1)];
end
$$;

grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text)
  to anon, authenticated, service_role;
