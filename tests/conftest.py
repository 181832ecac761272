"""Session-wide fixtures for real services: one migrated, seeded Postgres per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import psycopg
import pytest
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
        self.conn.execute("select set_config('request.jwt.claims', %s, true)", (claims.as_json(),))
        return self.conn


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


class Seed:
    """Fixed ids from supabase/seed.sql."""

    DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
    GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"
    USERS: ClassVar[dict[str, tuple[str, str, str]]] = {
        # key: (user id, org id, role in that org)
        "trainee": ("a0000000-0000-4000-8000-000000000001", DEMO_ORG, "trainee"),
        "trainee2": ("a0000000-0000-4000-8000-000000000002", DEMO_ORG, "trainee"),
        "manager": ("a0000000-0000-4000-8000-000000000003", DEMO_ORG, "manager"),
        "admin": ("a0000000-0000-4000-8000-000000000004", DEMO_ORG, "admin"),
        "hr": ("a0000000-0000-4000-8000-000000000005", DEMO_ORG, "hr"),
        "globex_trainee": ("a0000000-0000-4000-8000-000000000011", GLOBEX_ORG, "trainee"),
        "globex_manager": ("a0000000-0000-4000-8000-000000000012", GLOBEX_ORG, "manager"),
        "globex_admin": ("a0000000-0000-4000-8000-000000000013", GLOBEX_ORG, "admin"),
        "globex_hr": ("a0000000-0000-4000-8000-000000000014", GLOBEX_ORG, "hr"),
        "consultant_demo": ("a0000000-0000-4000-8000-000000000021", DEMO_ORG, "trainee"),
        "consultant_globex": ("a0000000-0000-4000-8000-000000000021", GLOBEX_ORG, "manager"),
    }
    SCENARIO_COLD_CALL = "f0000000-0000-4000-8000-000000000001"
    SCENARIO_CFO = "f0000000-0000-4000-8000-000000000002"
    SCENARIO_INCUMBENT = "f0000000-0000-4000-8000-000000000003"
    SCENARIO_DRAFT = "f0000000-0000-4000-8000-000000000004"
    SCENARIO_GLOBEX = "f0000000-0000-4000-8000-000000000011"

    @classmethod
    def claims(cls, key: str) -> Claims:
        user_id, org_id, role = cls.USERS[key]
        return Claims(sub=user_id, org_id=org_id, org_role=role)


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
