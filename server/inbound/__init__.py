"""Inbound webhooks: Stripe (billing) and Clerk (users, memberships) into the database.

`create_app(InboundConfig(dsn, stripe_secret=..., clerk_secret=...))` is an ASGI app; see
server/inbound/app.py for what it answers and server/integrations.py to run it.
"""

from server.inbound.app import InboundConfig, create_app

__all__ = ["InboundConfig", "create_app"]
