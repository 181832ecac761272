"""Session-wide fixtures for real services: one migrated, seeded Postgres per test session."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from db_support import ApiSession, Seed
from psycopg.rows import dict_row

# Local-stack fixtures (stack, client, service_client, signed_in, db, accounts, new_email) for
# every test package; the stack itself starts only when a test asks for it.
from stack_fixtures import (  # noqa: F401
    DEMO_PASSWORD,
    EMAILS,
    RunningStack,
    accounts,
    client,
    db,
    export_worker,
    fresh_org,
    new_email,
    service_client,
    signed_in,
    stack,
    stack_dsn,
)

from server.db.testing import migrated_database, with_dbname


@pytest.fixture(scope="session")
def database_dsn() -> Iterator[str]:
    """Superuser DSN of a database with the bootstrap, every migration and the demo seed."""
    with migrated_database(seed=True) as dsn:
        yield dsn


@pytest.fixture
def admin_conn(database_dsn: str) -> Iterator[psycopg.Connection]:
    """Superuser connection for arranging data; everything it does is rolled back."""
    with psycopg.connect(database_dsn, row_factory=dict_row) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def api(database_dsn: str) -> Iterator[ApiSession]:
    """Log in as `authenticator` (never the superuser) and act as API roles."""
    dsn = with_dbname(
        database_dsn,
        psycopg.conninfo.conninfo_to_dict(database_dsn)["dbname"],
        user="authenticator",
    )
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        yield ApiSession(conn)
        conn.rollback()


@pytest.fixture
def seed() -> type[Seed]:
    return Seed


@pytest.fixture
def as_user(api: ApiSession):
    """`as_user("manager")` -> connection acting as that seed user in their org (PostgREST-like)."""

    def become(key: str, **overrides: str | None) -> psycopg.Connection:
        claims = Seed.claims(key)
        for name, value in overrides.items():
            setattr(claims, name, value)
        return api.become(claims)

    return become
