"""Outbound webhooks: the dispatcher that sends the database's delivery outbox.

`worker.Dispatcher` / `worker.run_worker` send; `signing` makes Standard Webhooks signatures;
`app/webhook_targets` (shared with the admin screen's service, which checks a URL by the same
rules) refuses private and loopback destinations outside local mode. The outbox, retry schedule
and dead-lettering live in supabase/migrations/20261125001000_webhooks.sql.
"""
