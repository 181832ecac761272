"""Claims, API sessions and seed ids for database tests.

A module of its own (not conftest.py): every test folder may have a conftest, and pytest keeps
only one module named `conftest` at a time, so tests import these names from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import psycopg


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


def as_storage_api(conn: psycopg.Connection) -> psycopg.Connection:
    """Mark `conn`'s transaction as the Storage API's, as the storage server marks each of its
    own: storage.objects and storage.buckets refuse a direct delete otherwise (as on hosted)."""
    conn.execute("select set_config('storage.allow_delete_query', 'true', true)")
    return conn


def score_queued(conn: psycopg.Connection) -> int:
    """Score what uploads queued, in `conn`'s transaction (so rows not yet committed count), as
    the service role like the stack's scoring worker and pg_cron; then act as before again."""
    acting = conn.execute("select current_user::text").fetchone()
    role = acting["current_user"] if isinstance(acting, dict) else acting[0]  # type: ignore[index]
    conn.execute("set local role service_role")
    try:
        row = conn.execute("select private.score_queued(100000) as taken").fetchone()
    finally:
        conn.execute(f'set local role "{role}"')
    return int(row["taken"] if isinstance(row, dict) else row[0])  # type: ignore[index]


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


def act(conn: psycopg.Connection, who: str | Claims) -> psycopg.Connection:
    """Switch the open transaction to a seed user (key) or to other claims, keeping its data
    (as PostgREST does per request: the role and the JWT claims, local to the transaction)."""
    claims = Seed.claims(who) if isinstance(who, str) else who
    conn.execute(f"set local role {claims.role}")
    conn.execute("select set_config('request.jwt.claims', %s, true)", (claims.as_json(),))
    return conn
