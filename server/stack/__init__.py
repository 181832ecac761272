"""A local, Supabase-compatible HTTP stack: the subset of PostgREST, GoTrue and Storage that the
official `supabase` Python client uses, served on 127.0.0.1 over the project's private Postgres.

The database decides every authorization question: each request runs in one transaction as the
token's Postgres role with `request.jwt.claims` set, exactly as PostgREST does, so the RLS
policies in `supabase/migrations/` are the only access rules. See docs/local-stack.md.
"""
