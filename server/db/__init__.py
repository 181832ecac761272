"""The project's own Postgres: a private cluster, the compat bootstrap and migrations."""
