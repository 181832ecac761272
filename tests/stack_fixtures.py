"""A running local stack for the session, and official `supabase` clients pointed at it.

Registered for the whole suite by tests/conftest.py: sync, UI and integration tests use it too.

The stack serves a database of its own, created (bootstrap, migrations, seed, local auth
tables) on the same server as the `database_dsn` fixture: HTTP tests commit what they write,
and the rolled-back-only tests elsewhere must never see those rows.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from server.db.auth_users import NewUser, create_user
from server.db.cluster import free_port
from server.db.testing import database_beside
from server.exports.job import StorageTarget
from server.integrations import start_worker
from server.stack.config import StackConfig
from server.stack.outbox import read_outbox
from server.stack.ratelimit import RateLimits
from server.stack.runner import StackServer, apply_local_stack_sql
from supabase import Client, ClientOptions, create_client

DEMO_PASSWORD = "coachdesk-demo"
EMAILS = {
    "trainee": "trainee@demo.coachdesk.test",
    "trainee2": "trainee2@demo.coachdesk.test",
    "manager": "manager@demo.coachdesk.test",
    "admin": "admin@demo.coachdesk.test",
    "hr": "hr@demo.coachdesk.test",
    "globex_trainee": "trainee@globex.coachdesk.test",
    "globex_manager": "manager@globex.coachdesk.test",
    "globex_admin": "admin@globex.coachdesk.test",
    "consultant": "consultant@coachdesk.test",
}


@dataclass
class RunningStack:
    config: StackConfig
    dsn: str

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def anon_key(self) -> str:
        return self.config.anon_key

    @property
    def service_key(self) -> str:
        return self.config.service_key


@pytest.fixture(scope="session")
def stack_dsn(database_dsn: str) -> Iterator[str]:
    """A fresh migrated + seeded database beside the session's test database."""
    name = f"{conninfo_to_dict(database_dsn)['dbname']}_stack"
    with database_beside(database_dsn, name) as dsn:
        apply_local_stack_sql(dsn)
        yield dsn


@pytest.fixture(scope="session")
def stack(stack_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    data_dir: Path = tmp_path_factory.mktemp("stack")
    # Hundreds of sign-ins from 127.0.0.1 in one session: GoTrue's limits would refuse them.
    # tests/stack/test_rate_limits.py runs a second stack with tight limits.
    config = StackConfig.for_data_dir(
        stack_dsn, data_dir, port=free_port(), rate_limits=RateLimits.generous()
    )
    with StackServer(config):
        yield RunningStack(config, stack_dsn)


def _options() -> ClientOptions:
    # No background refresh timers in tests: each test drives refreshes itself.
    return ClientOptions(auto_refresh_token=False, persist_session=True)


@pytest.fixture
def client(stack: RunningStack) -> Iterator[Client]:
    """An anonymous client (anon key), exactly as an app would create it."""
    supabase = create_client(stack.url, stack.anon_key, _options())
    yield supabase
    supabase.postgrest.aclose()


@pytest.fixture
def service_client(stack: RunningStack) -> Client:
    return create_client(stack.url, stack.service_key, _options())


@pytest.fixture
def signed_in(stack: RunningStack) -> Callable[[str], Client]:
    """`signed_in("manager")` → a client signed in as that seed user with the demo password."""

    def sign_in(key: str) -> Client:
        supabase = create_client(stack.url, stack.anon_key, _options())
        supabase.auth.sign_in_with_password({"email": EMAILS[key], "password": DEMO_PASSWORD})
        return supabase

    return sign_in


@pytest.fixture
def db(stack: RunningStack) -> Iterator[psycopg.Connection]:
    """Superuser connection to the stack's database, to arrange and inspect (autocommit)."""
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        yield conn


def wait_for_scoring(db: psycopg.Connection, timeout: float = 30.0) -> None:
    """Until the stack's scoring worker has emptied the queue: every attempt uploaded so far is
    scored (or found unscorable), committed. An upload only queues its attempt."""
    deadline = time.monotonic() + timeout
    while db.execute("select exists (select from private.scoring_queue)").fetchone() != (False,):
        if time.monotonic() > deadline:
            raise TimeoutError(f"attempts were still waiting to be scored after {timeout:.0f} s")
        time.sleep(0.02)


@pytest.fixture
def export_worker(stack: RunningStack) -> Iterator[None]:
    """The worker `coachdesk run` starts beside the stack (server/stack/runner.py
    _integrations): the export job fulfils requests as it would for a person, every 0.2 s. The
    session's stack runs none of its own, so a test that waits for an export asks for this."""
    worker = start_worker(
        stack.dsn,
        allow_private_targets=True,
        storage=StorageTarget(stack.url, stack.service_key),
        exports_every_s=0.2,
        poll_interval_s=0.2,
    )
    yield
    worker.stop()


@pytest.fixture
def accounts() -> dict[str, str]:
    """Seed users' emails by key; every one has the password DEMO_PASSWORD."""
    return dict(EMAILS)


@pytest.fixture
def new_email() -> Callable[[], str]:
    return lambda: f"user-{uuid.uuid4().hex[:10]}@example.test"


def mailed(stack: RunningStack, email: str) -> tuple[str, str]:
    """The code and link of the latest mail the stack sent to `email` (its outbox)."""
    messages = read_outbox(stack.config.outbox_dir, to=email)
    assert messages, f"no mail to {email} in {stack.config.outbox_dir}"
    text = messages[-1].get_content()
    code = re.search(r"code: (\d{6})", text)
    link = re.search(r"(http\S+/auth/v1/verify\S+)", text)
    assert code and link, text
    return code[1], link[1]


def sign_up_confirmed(supabase: Client, stack: RunningStack, email: str, password: str) -> None:
    """Sign up as a person would: the form, then the code from the confirmation mail."""
    supabase.auth.sign_up({"email": email, "password": password})
    code, _ = mailed(stack, email)
    supabase.auth.verify_otp({"email": email, "token": code, "type": "signup"})


# A fresh org ----------------------------------------------------------------------------------
FRESH_PASSWORD = "fresh-org-pass-1"


@dataclass
class FreshOrg:
    """An org of its own on the stack (seats: 3), with an admin and a trainee who sign in with
    FRESH_PASSWORD; `new_email()` names an address a test may invite or sign up, removed with
    the org's users afterwards. Tests that change members use one, so the seed orgs that other
    tests count stay as they are."""

    conn: psycopg.Connection[dict[str, Any]]
    id: str
    name: str
    admin: str
    trainee: str
    emails: dict[str, str]
    extra_emails: list[str] = field(default_factory=list)

    def new_email(self) -> str:
        email = f"fresh-{uuid.uuid4().hex[:10]}@example.test"
        self.extra_emails.append(email)
        return email

    def one(self, sql: str, params: Any = ()) -> dict[str, Any]:
        row = self.conn.execute(sql, params).fetchone()
        assert row is not None
        return row

    def team(self, name: str, *members: str) -> str:
        team = self.one(
            "insert into teams (org_id, name) values (%s, %s) returning id::text", (self.id, name)
        )["id"]
        for user in members:
            self.conn.execute(
                "insert into team_members (org_id, team_id, user_id) values (%s, %s, %s)",
                (self.id, team, user),
            )
        return team


def _fresh_user(conn: psycopg.Connection[dict[str, Any]], name: str) -> tuple[str, str]:
    email = f"fresh-{uuid.uuid4().hex[:10]}@example.test"
    hashed = conn.execute(
        "select extensions.crypt(%s, extensions.gen_salt('bf', 4)) as h", (FRESH_PASSWORD,)
    ).fetchone()
    assert hashed is not None
    user = NewUser(email=email, password_hash=hashed["h"], user_metadata={"full_name": name})
    return str(create_user(conn, user)), email


@pytest.fixture
def fresh_org(stack: RunningStack) -> Iterator[FreshOrg]:
    with psycopg.connect(stack.dsn, autocommit=True, row_factory=dict_row) as conn:
        slug = f"fresh-{uuid.uuid4().hex[:10]}"
        found = conn.execute(
            "insert into orgs (name, slug, plan, entitlements) values (%s, %s, 'team', %s)"
            " returning id::text",
            (f"Org {slug}", slug, Jsonb({"seats": 3})),
        ).fetchone()
        assert found is not None
        org_id = found["id"]
        admin, admin_email = _fresh_user(conn, "Ada Admin")
        trainee, trainee_email = _fresh_user(conn, "Tom Trainee")
        for user, role, name in (
            (admin, "admin", "Ada Admin"),
            (trainee, "trainee", "Tom Trainee"),
        ):
            conn.execute(
                "insert into org_members (org_id, user_id, role, display_name)"
                " values (%s, %s, %s, %s)",
                (org_id, user, role, name),
            )
        made = FreshOrg(
            conn,
            org_id,
            f"Org {slug}",
            admin,
            trainee,
            {"admin": admin_email, "trainee": trainee_email},
        )
        try:
            yield made
        finally:
            conn.execute("delete from orgs where id = %s", (org_id,))
            conn.execute(
                "delete from auth.users where id = any(%s::uuid[]) or email = any(%s)",
                ([admin, trainee], made.extra_emails),
            )
