-- Statement timeouts of the API roles, as hosted Supabase sets them: a slow query from a
-- client is cancelled instead of holding a pooled connection (and, if it wrote, the sync
-- watermark of every org) for as long as it likes. Role settings apply at login (authenticator,
-- whose connections the API pools hold) and, for the roles a request switches to, per request:
-- PostgREST (and server/stack/rest.py) apply the impersonated role's settings with SET LOCAL.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';

-- Hosted PostgREST re-reads role settings on this notification; nothing listens locally.
notify pgrst, 'reload config';
