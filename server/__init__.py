"""Server-side Python services: the private Postgres cluster, migrations, local stack, webhooks."""
