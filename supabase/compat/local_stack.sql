-- Local stack only: the GoTrue tables the local auth server needs (sessions, refresh tokens,
-- one-time tokens of mailed codes and links).
--
-- Hosted Supabase has its own `auth.sessions` / `auth.refresh_tokens`, managed by GoTrue, so
-- this file is never pushed there; server/stack/runner.py applies it after the compat
-- bootstrap and the migrations. Idempotent. Refresh tokens are stored as SHA-256 digests: a
-- leaked table cannot be replayed as sessions.

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  aal text not null default 'aal1',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  refreshed_at timestamptz
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

-- One row per issued refresh token. Rotation marks the used token `revoked` and adds its child;
-- presenting a revoked token again is reuse, and deletes the whole session (its family).
create table if not exists auth.refresh_tokens (
  id bigint generated always as identity primary key,
  token_hash text not null unique,
  user_id uuid not null references auth.users (id) on delete cascade,
  session_id uuid not null references auth.sessions (id) on delete cascade,
  parent_id bigint references auth.refresh_tokens (id) on delete cascade,
  revoked boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists refresh_tokens_session_id_idx on auth.refresh_tokens (session_id);
create index if not exists refresh_tokens_user_id_idx on auth.refresh_tokens (user_id);
create index if not exists refresh_tokens_parent_id_idx on auth.refresh_tokens (parent_id);

-- Only the auth server (which acts as supabase_auth_admin) touches these; API roles never do.
revoke all on auth.sessions, auth.refresh_tokens from anon, authenticated, public;
grant select, insert, update, delete on auth.sessions, auth.refresh_tokens to supabase_auth_admin;

-- GoTrue's one-time tokens (confirmation, recovery/magic link): one live token per user and
-- kind, replaced when a new mail is sent, deleted when used. token_hash is GoTrue's
-- hex(sha224(email || otp)), the value a mail's link carries; relates_to is the address the
-- mail went to, so a token only ever confirms the address it was sent to.
create table if not exists auth.one_time_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  token_type text not null check (token_type in ('confirmation_token', 'recovery_token')),
  token_hash text not null check (char_length(token_hash) > 0),
  relates_to text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, token_type)
);
create index if not exists one_time_tokens_token_hash_idx on auth.one_time_tokens (token_hash);
revoke all on auth.one_time_tokens from anon, authenticated, public;
grant select, insert, update, delete on auth.one_time_tokens to supabase_auth_admin;
