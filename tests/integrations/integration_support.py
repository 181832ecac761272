"""Fixtures for integration tests: committed data in fresh orgs (removed afterwards), a real
webhook receiver on 127.0.0.1, and a dispatcher driven one batch at a time.

Test modules import the fixtures they use from here (`arrange_fixture`, `receiver_fixture`).
It is not a conftest.py on purpose: every conftest.py is imported as the module `conftest`,
and a second one would shadow the root conftest that tests/db imports its helpers from.

These tests commit, because the dispatcher, the inbound app and the export job each use their
own connections; every org and user they create is new and deleted at teardown, so the seed and
other tests never see them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from server.db.auth_users import NewUser, create_user
from server.exports.job import ExportJob, StorageTarget
from server.webhooks.testing import Receiver, start_receiver
from server.webhooks.worker import Dispatcher, DispatcherConfig
from supabase import Client, ClientOptions, create_client

# A published seed scenario whose documents new scenarios copy.
SEED_SCENARIO = "f0000000-0000-4000-8000-000000000001"
PASSWORD = "integration-pass"


class Arrange:
    """Creates committed rows as the superuser and removes them at the end."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
        self.orgs: list[str] = []
        self.users: list[str] = []

    def one(self, sql: str, params: Any = ()) -> dict[str, Any]:
        row = self.conn.execute(sql, params).fetchone()
        assert row is not None
        return row

    def org(self, entitlements: dict[str, int] | None = None, plan: str = "team") -> str:
        slug = f"it-{uuid.uuid4().hex[:12]}"
        org = self.one(
            "insert into orgs (name, slug, plan, entitlements) values (%s, %s, %s, %s)"
            " returning id::text",
            (f"Org {slug}", slug, plan, Jsonb(entitlements or {})),
        )["id"]
        self.orgs.append(org)
        return org

    def user(self, email: str | None = None, name: str = "") -> str:
        password_hash = self.one(
            "select extensions.crypt(%s, extensions.gen_salt('bf', 4)) as hash", (PASSWORD,)
        )["hash"]
        new_user = NewUser(
            email=email or f"it-{uuid.uuid4().hex[:10]}@example.test",
            password_hash=password_hash,
            user_metadata={"full_name": name},
        )
        user = str(create_user(self.conn, new_user))
        self.users.append(user)
        return user

    def member(
        self, org: str, role: str = "trainee", name: str = "", user: str | None = None
    ) -> str:
        user = user or self.user(name=name)
        self.conn.execute(
            "insert into org_members (org_id, user_id, role, display_name) values (%s, %s, %s, %s)",
            (org, user, role, name),
        )
        return user

    def scenario(self, org: str, status: str = "published", title: str = "Scenario") -> str:
        return self.one(
            "insert into scenarios (org_id, title, persona, branching, rubric, status)"
            " select %s, %s, persona, branching, rubric, %s from scenarios where id = %s"
            " returning id::text",
            (org, title, status, SEED_SCENARIO),
        )["id"]

    def webhook(self, org: str, url: str, events: tuple[str, ...] = ("*",)) -> dict[str, Any]:
        return self.one(
            "insert into webhooks (org_id, url, events) values (%s, %s, %s)"
            " returning id::text, secret",
            (org, url, list(events)),
        )

    def enqueue(self, org: str, event: str = "member.removed", **data: Any) -> list[str]:
        rows = self.conn.execute(
            "select id::text from enqueue_webhook(%s, %s) as id",
            (event, Jsonb({"org_id": org, **data})),
        ).fetchall()
        return [r["id"] for r in rows]

    def delivery(self, delivery: str) -> dict[str, Any]:
        return self.one(
            "select *, status::text as state,"
            " extract(epoch from next_attempt_at - last_attempt_at)::float as delay_s"
            " from webhook_deliveries where id = %s",
            (delivery,),
        )

    def make_due(self, delivery: str) -> None:
        """Time travel: the retry is due now (instead of sleeping through the backoff)."""
        self.conn.execute(
            "update webhook_deliveries set next_attempt_at = now() where id = %s", (delivery,)
        )

    def cleanup(self) -> None:
        if self.orgs:
            self.conn.execute("delete from orgs where id = any(%s::uuid[])", (self.orgs,))
        if self.users:
            self.conn.execute("delete from auth.users where id = any(%s::uuid[])", (self.users,))
        self.conn.close()


# Named fixtures: test modules import `arrange_fixture` and ask for `arrange`, so the parameter
# does not shadow the import.
@pytest.fixture(name="arrange")
def arrange_fixture(database_dsn: str) -> Iterator[Arrange]:
    helper = Arrange(database_dsn)
    yield helper
    helper.cleanup()


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    server = start_receiver()
    yield server
    server.stop()


@pytest.fixture(name="stack_arrange")
def stack_arrange_fixture(stack: Any) -> Iterator[Arrange]:
    """Arrange in the running local stack's database (what its API, Storage and workers see)."""
    helper = Arrange(stack.dsn)
    yield helper
    helper.cleanup()


@pytest.fixture(name="job")
def export_job_fixture(stack: Any) -> ExportJob:
    """The export job with the stack's Storage and service key, driven by the test."""
    return ExportJob(stack.dsn, StorageTarget(stack.url, stack.service_key))


def sign_in(stack: Any, arrange: Arrange, user: str) -> Client:
    """A client of the stack signed in as a user Arrange made."""
    email = arrange.one("select email from auth.users where id = %s", (user,))["email"]
    client = create_client(
        stack.url, stack.anon_key, ClientOptions(auto_refresh_token=False, persist_session=False)
    )
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return client


def hook(
    arrange: Arrange, receiver: Receiver, org: str, events: tuple[str, ...] = ("*",)
) -> dict[str, Any]:
    """An endpoint of `org` at a fresh path of the receiver, which verifies with its secret."""
    path = f"/hooks/{uuid.uuid4().hex}"
    placeholder = arrange.webhook(org, "http://127.0.0.1/placeholder", events)
    url = receiver.endpoint(path, placeholder["secret"])
    arrange.conn.execute("update webhooks set url = %s where id = %s", (url, placeholder["id"]))
    return {**placeholder, "path": path, "url": url}


def dispatcher_config(dsn: str, **overrides: Any) -> DispatcherConfig:
    """Local mode (the receiver is on 127.0.0.1), short timeouts for the slow-receiver tests."""
    options: dict[str, Any] = {
        "allow_private_targets": True,
        "timeout_s": 2.0,
        "reap_stale_s": 60.0,
        "batch_size": 50,
        "concurrency": 16,
    }
    options.update(overrides)
    return DispatcherConfig(dsn, **options)


def dispatch_once(dsn: str, **overrides: Any) -> int:
    """One batch through a fresh Dispatcher; returns how many deliveries it claimed."""

    async def once() -> int:
        async with Dispatcher(dispatcher_config(dsn, **overrides)) as dispatcher:
            return await dispatcher.run_once()

    return asyncio.run(once())
