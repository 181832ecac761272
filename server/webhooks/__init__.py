"""Outbound webhooks: the dispatcher that sends the database's delivery outbox.

`worker.Dispatcher` / `worker.run_worker` send; `signing` makes Standard Webhooks signatures;
`targets` refuses private and loopback destinations outside local mode. The outbox, retry
schedule and dead-lettering live in supabase/migrations/20261125001000_webhooks.sql.
"""
