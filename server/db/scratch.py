"""Scratch databases: a fresh, migrated database that is dropped when its user is done.

The demo (`app/client/demo.py`), the typegen and the tests' fixtures (through the testing
module beside this one) all build on it. Uses `$DATABASE_URL` when set (it must allow creating
databases and roles), otherwise starts a private cluster in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from server.db.cluster import EPHEMERAL_SETTINGS, PostgresCluster, free_port
from server.db.dsn import with_dbname
from server.db.migrate import migrate


@contextmanager
def server_dsn() -> Iterator[str]:
    """A superuser DSN on some server: $DATABASE_URL, or a throwaway private cluster."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    root = Path(tempfile.mkdtemp(prefix="coachdesk-pg-"))
    os.chmod(root, 0o755)
    cluster = PostgresCluster(root=root, port=free_port(), settings=EPHEMERAL_SETTINGS)
    cluster.start()
    try:
        yield cluster.dsn()
    finally:
        cluster.destroy()


@contextmanager
def migrated_database(*, seed: bool = True) -> Iterator[str]:
    """Create a uniquely named database, migrate (and seed) it, drop it afterwards."""
    name = f"coachdesk_test_{uuid.uuid4().hex[:12]}"
    with server_dsn() as admin_dsn, database_beside(admin_dsn, name, seed=seed) as dsn:
        yield dsn


@contextmanager
def database_beside(dsn: str, name: str, *, seed: bool = True) -> Iterator[str]:
    """A database `name` on the server of `dsn` (a superuser DSN), migrated (and seeded); dropped
    afterwards, with whatever sessions it still has."""
    admin = with_dbname(dsn, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        created = with_dbname(dsn, name)
        migrate(created, seed=seed)
        yield created
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
