"""Session-wide fixtures for real services: one migrated, seeded Postgres per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.rows import dict_row

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


@dataclass
class Claims:
    """The JWT claims a request carries, as PostgREST hands them to Postgres."""

    sub: str | None
    role: str = "authenticated"
    org_id: str | None = None
    org_role: str | None = None

    def as_json(self) -> str:
        claims = {"sub": self.sub, "role": self.role, "aud": "authenticated"}
        if self.org_id:
            claims["org_id"] = self.org_id
        if self.org_role:
            claims["org_role"] = self.org_role
        return json.dumps({k: v for k, v in claims.items() if v is not None})


class ApiSession:
    """A connection as `authenticator`, switched to an API role with claims, like PostgREST.

    Each `as_user` call starts a fresh transaction; nothing is ever committed.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def become(self, claims: Claims) -> psycopg.Connection:
        self.conn.rollback()
        self.conn.execute(f"set local role {claims.role}")
        self.conn.execute(
            "select set_config('request.jwt.claims', %s, true)", (claims.as_json(),)
        )
        return self.conn


@pytest.fixture
def api(database_dsn: str) -> Iterator[ApiSession]:
    """Log in as `authenticator` (never the superuser) and act as API roles."""
    dsn = with_dbname(database_dsn, psycopg.conninfo.conninfo_to_dict(database_dsn)["dbname"],
                      user="authenticator")
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        yield ApiSession(conn)
        conn.rollback()
