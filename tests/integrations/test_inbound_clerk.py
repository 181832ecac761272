"""`/webhooks/clerk` over real HTTP: payloads signed with `svix.webhooks.Webhook(secret).sign`,
as Clerk's deliveries are, applied to auth.users and org_members.

Clerk users and orgs created here are removed at teardown through the id mappings.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from integration_support import arrange_fixture  # noqa: F401 (fixture)
from structlog.testing import capture_logs
from svix.webhooks import Webhook

from server.db.auth_users import NewUser, create_user
from server.db.cluster import free_port
from server.integrations import InboundServer, start_inbound

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def inbound(database_dsn: str) -> Iterator[InboundServer]:
    server = start_inbound(
        database_dsn, port=free_port(), stripe_secret=None, clerk_secret=SECRET, lock_timeout_ms=300
    )
    yield server
    server.stop()


@pytest.fixture
def clerk(arrange) -> Iterator[dict[str, list[str]]]:
    """Clerk ids used by a test; their users and orgs are deleted afterwards."""
    ids: dict[str, list[str]] = {"users": [], "orgs": []}
    yield ids
    arrange.conn.execute(
        "delete from orgs where id in (select org_id from private.clerk_orgs"
        " where clerk_org_id = any(%s))",
        (ids["orgs"],),
    )
    arrange.conn.execute(
        "delete from auth.users where id in (select user_id from private.clerk_users"
        " where clerk_user_id = any(%s))",
        (ids["users"],),
    )


def new_ids(clerk: dict[str, list[str]]) -> tuple[str, str]:
    user, org = f"user_{uuid.uuid4().hex[:20]}", f"org_{uuid.uuid4().hex[:20]}"
    clerk["users"].append(user)
    clerk["orgs"].append(org)
    return user, org


def post(
    inbound: InboundServer,
    body: dict[str, Any] | str,
    *,
    msg_id: str | None = None,
    timestamp: datetime | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = timestamp or datetime.now(UTC)
    if headers is None:
        headers = {
            "svix-id": msg_id,
            "svix-timestamp": str(int(when.timestamp())),
            "svix-signature": Webhook(secret).sign(msg_id, when, text),
        }
    return httpx.post(
        f"{inbound.url}/webhooks/clerk",
        content=text.encode(),
        headers={"content-type": "application/json", **headers},
    )


def clerk_event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"object": "event", "type": kind, "timestamp": int(time.time() * 1000), "data": data}


def user_data(
    clerk_user: str, email: str, *, updated: int = 1, verified: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "id": clerk_user,
        "object": "user",
        "first_name": extra.get("first_name", "Clara"),
        "last_name": "Clerk",
        "primary_email_address_id": "idn_1",
        "email_addresses": [
            {"id": "idn_0", "email_address": "old@example.test"},
            {
                "id": "idn_1",
                "email_address": email,
                "verification": {"status": "verified" if verified else "unverified"},
            },
        ],
        "updated_at": updated,
    }


def membership_data(
    clerk_user: str, clerk_org: str, role: str = "org:admin", **org: Any
) -> dict[str, Any]:
    return {
        "id": f"orgmem_{uuid.uuid4().hex[:12]}",
        "object": "organization_membership",
        "role": role,
        "organization": {
            "id": clerk_org,
            "name": org.get("name", "Acme Sales"),
            "slug": org.get("slug", "acme-sales"),
            "public_metadata": org.get("public_metadata", {}),
        },
        "public_user_data": {
            "user_id": clerk_user,
            "identifier": org.get("email", f"{uuid.uuid4().hex[:8]}@example.test"),
            "first_name": "Clara",
            "last_name": "Clerk",
        },
    }


def user_row(arrange, clerk_user: str) -> dict[str, Any] | None:
    return arrange.conn.execute(
        "select u.id::text, u.email, u.raw_user_meta_data ->> 'full_name' as name,"
        " u.email_confirmed_at is not null as confirmed"
        " from private.clerk_users c join auth.users u on u.id = c.user_id"
        " where c.clerk_user_id = %s",
        (clerk_user,),
    ).fetchone()


def members(arrange, clerk_org: str) -> list[dict[str, Any]]:
    return arrange.conn.execute(
        "select m.user_id::text, m.role::text, m.display_name from private.clerk_orgs c"
        " join org_members m on m.org_id = c.org_id where c.clerk_org_id = %s order by 1",
        (clerk_org,),
    ).fetchall()


def recorded(arrange, msg_id: str) -> int:
    return arrange.one(
        "select count(*) as n from private.inbound_events where provider = 'clerk'"
        " and event_id = %s",
        (msg_id,),
    )["n"]


def test_user_created_updated_deleted(arrange, inbound, clerk):
    clerk_user, _ = new_ids(clerk)
    email = f"{uuid.uuid4().hex[:8]}@Example.test"

    created = post(inbound, clerk_event("user.created", user_data(clerk_user, email)))
    assert created.status_code == 200, created.text
    assert created.json() == {"status": "applied"}
    row = user_row(arrange, clerk_user)
    assert row["email"] == email.lower()
    assert row["name"] == "Clara Clerk"
    assert row["confirmed"] is True

    renamed = user_data(clerk_user, "new-" + email, updated=5, first_name="Carla")
    post(inbound, clerk_event("user.updated", renamed))
    assert user_row(arrange, clerk_user)["name"] == "Carla Clerk"
    # An older update delivered late changes nothing.
    stale = user_data(clerk_user, "stale-" + email, updated=3, first_name="Old")
    assert post(inbound, clerk_event("user.updated", stale)).status_code == 200
    assert user_row(arrange, clerk_user)["email"] == "new-" + email.lower()

    gone = post(inbound, clerk_event("user.deleted", {"id": clerk_user, "deleted": True}))
    assert gone.json() == {"status": "applied"}
    assert user_row(arrange, clerk_user) is None
    assert arrange.one("select count(*) as n from auth.users where id = %s", (row["id"],))["n"] == 0
    # Deleting someone we never knew is acknowledged.
    unknown = post(inbound, clerk_event("user.deleted", {"id": "user_never_seen"}))
    assert unknown.json() == {"status": "unknown_user"}


def test_a_verified_email_links_an_existing_account(arrange, inbound, clerk):
    clerk_user, _ = new_ids(clerk)
    existing = arrange.user(email=f"{uuid.uuid4().hex[:8]}@example.test")
    email = arrange.one("select email from auth.users where id = %s", (existing,))["email"]
    post(inbound, clerk_event("user.created", user_data(clerk_user, email)))
    assert user_row(arrange, clerk_user)["id"] == existing


def test_an_unverified_email_cannot_take_over_an_account(arrange, inbound, clerk):
    clerk_user, _ = new_ids(clerk)
    existing = arrange.user()
    email = arrange.one("select email from auth.users where id = %s", (existing,))["email"]
    body = clerk_event("user.created", user_data(clerk_user, email, verified=False))
    response = post(inbound, body)
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert user_row(arrange, clerk_user) is None


def test_a_verified_email_never_links_an_unconfirmed_account(arrange, inbound, clerk):
    """Someone signed up with the address but never confirmed it: Clerk's verification of the
    address is no reason to hand them the Clerk user. Refused and logged; Svix's retry links
    the account once its owner has confirmed it."""
    clerk_user, _ = new_ids(clerk)
    squatter = arrange.user()
    arrange.conn.execute(
        "update auth.users set email_confirmed_at = null where id = %s", (squatter,)
    )
    email = arrange.one("select email from auth.users where id = %s", (squatter,))["email"]
    body = clerk_event("user.created", user_data(clerk_user, email))
    msg_id = f"msg_{uuid.uuid4().hex}"

    with capture_logs() as logs:
        refused = post(inbound, body, msg_id=msg_id)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "unconfirmed_account"
    assert user_row(arrange, clerk_user) is None
    assert recorded(arrange, msg_id) == 0
    logged = [e for e in logs if e["event"] == "inbound.link_refused"]
    assert logged and logged[0]["account"] == f"user_id={squatter}"
    assert logged[0]["event_id"] == msg_id

    arrange.conn.execute(
        "update auth.users set email_confirmed_at = now() where id = %s", (squatter,)
    )
    assert post(inbound, body, msg_id=msg_id).json() == {"status": "applied"}
    assert user_row(arrange, clerk_user)["id"] == squatter


def test_a_linked_user_takes_only_verified_addresses(arrange, inbound, clerk):
    clerk_user, _ = new_ids(clerk)
    email = f"{uuid.uuid4().hex[:8]}@example.test"
    post(inbound, clerk_event("user.created", user_data(clerk_user, email)))

    unverified = user_data(clerk_user, "unverified-" + email, updated=2, verified=False)
    assert post(inbound, clerk_event("user.updated", unverified)).status_code == 200
    assert user_row(arrange, clerk_user)["email"] == email  # kept: Clerk has not verified it

    verified = user_data(clerk_user, "verified-" + email, updated=3)
    assert post(inbound, clerk_event("user.updated", verified)).status_code == 200
    row = user_row(arrange, clerk_user)
    assert (row["email"], row["confirmed"]) == ("verified-" + email, True)


def test_memberships_create_org_and_user_then_change_and_leave(arrange, inbound, clerk):
    clerk_user, clerk_org = new_ids(clerk)
    joined = post(
        inbound,
        clerk_event("organizationMembership.created", membership_data(clerk_user, clerk_org)),
    )
    assert joined.json() == {"status": "applied"}, joined.text
    org = arrange.one(
        "select o.plan::text, o.entitlements, o.slug, o.name from private.clerk_orgs c"
        " join orgs o on o.id = c.org_id where c.clerk_org_id = %s",
        (clerk_org,),
    )
    assert org["plan"] == "free"
    assert org["entitlements"] == {"seats": 5, "active_scenarios": 3, "retention_days": 30}
    assert org["slug"].startswith("acme-sales-")
    user = user_row(arrange, clerk_user)
    assert members(arrange, clerk_org) == [
        {"user_id": user["id"], "role": "admin", "display_name": "Clara Clerk"}
    ]

    changed = membership_data(clerk_user, clerk_org, role="org:member")
    post(inbound, clerk_event("organizationMembership.updated", changed))
    assert members(arrange, clerk_org)[0]["role"] == "trainee"

    left = post(inbound, clerk_event("organizationMembership.deleted", changed))
    assert left.json() == {"status": "applied"}
    assert members(arrange, clerk_org) == []
    assert user_row(arrange, clerk_user) is not None  # leaving an org is not deleting the user


def test_public_metadata_links_an_existing_org(arrange, inbound, clerk):
    clerk_user, clerk_org = new_ids(clerk)
    org = arrange.org()
    data = membership_data(
        clerk_user, clerk_org, role="org:manager", public_metadata={"coachdesk_org_id": org}
    )
    post(inbound, clerk_event("organizationMembership.created", data))
    assert arrange.one("select role::text from org_members where org_id = %s", (org,)) == {
        "role": "manager"
    }


def test_replayed_message_is_a_no_op(arrange, inbound, clerk):
    clerk_user, clerk_org = new_ids(clerk)
    body = clerk_event("organizationMembership.created", membership_data(clerk_user, clerk_org))
    msg_id = f"msg_{uuid.uuid4().hex}"
    assert post(inbound, body, msg_id=msg_id).json() == {"status": "applied"}
    arrange.conn.execute(
        "update org_members set role = 'hr' where user_id = %s",
        (user_row(arrange, clerk_user)["id"],),
    )
    again = post(inbound, body, msg_id=msg_id)
    assert again.json() == {"status": "duplicate"}
    assert members(arrange, clerk_org)[0]["role"] == "hr"


def test_seat_limit_refuses_the_membership_and_writes_nothing(arrange, inbound, clerk):
    clerk_user, clerk_org = new_ids(clerk)
    org = arrange.org(entitlements={"seats": 1})
    arrange.member(org, role="admin")
    data = membership_data(clerk_user, clerk_org, public_metadata={"coachdesk_org_id": org})
    msg_id = f"msg_{uuid.uuid4().hex}"

    response = post(inbound, clerk_event("organizationMembership.created", data), msg_id=msg_id)

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "entitlement_exceeded"
    assert "seat limit reached" in body["message"]
    # Not even the user or the org link the handler made first.
    assert user_row(arrange, clerk_user) is None
    assert members(arrange, clerk_org) == []
    assert recorded(arrange, msg_id) == 0


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("wrong secret", 401, "invalid_signature"),
        ("tampered body", 401, "invalid_signature"),
        ("stale timestamp", 401, "stale_timestamp"),
        ("future timestamp", 401, "stale_timestamp"),
        ("missing headers", 400, "missing_signature"),
        ("malformed signature header", 401, "invalid_signature"),
        ("malformed json", 400, "malformed_body"),
        ("not utf-8", 400, "malformed_body"),
        ("json without data", 400, "malformed_body"),
        ("user without id", 422, "malformed_event"),
        ("membership without role", 422, "malformed_event"),
    ],
)
def test_refusals_write_nothing(arrange, inbound, clerk, case, status, code):
    clerk_user, clerk_org = new_ids(clerk)
    body = clerk_event("organizationMembership.created", membership_data(clerk_user, clerk_org))
    text = json.dumps(body)
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    signed = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": Webhook(SECRET).sign(msg_id, now, text),
    }
    if case == "wrong secret":
        other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        response = post(inbound, body, msg_id=msg_id, secret=other)
    elif case == "tampered body":
        response = post(inbound, text.replace("org:admin", "org:hr"), headers=signed)
    elif case == "stale timestamp":
        response = post(inbound, body, msg_id=msg_id, timestamp=now - timedelta(minutes=6))
    elif case == "future timestamp":
        response = post(inbound, body, msg_id=msg_id, timestamp=now + timedelta(minutes=6))
    elif case == "missing headers":
        response = post(inbound, body, headers={"svix-id": msg_id})
    elif case == "malformed signature header":
        response = post(inbound, body, headers={**signed, "svix-signature": "v1"})
    elif case == "malformed json":
        bad = text[:-3]
        response = post(inbound, bad, msg_id=msg_id)
    elif case == "not utf-8":
        response = httpx.post(
            f"{inbound.url}/webhooks/clerk", content=b"\xff\xfe{}", headers=signed
        )
    elif case == "json without data":
        response = post(inbound, {"type": "user.created"}, msg_id=msg_id)
    elif case == "user without id":
        response = post(inbound, clerk_event("user.created", {"first_name": "X"}), msg_id=msg_id)
    else:
        data = membership_data(clerk_user, clerk_org)
        del data["role"]
        response = post(inbound, clerk_event("organizationMembership.created", data), msg_id=msg_id)

    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert recorded(arrange, msg_id) == 0
    assert user_row(arrange, clerk_user) is None
    assert members(arrange, clerk_org) == []


def test_unknown_event_types_are_acknowledged_and_ignored(arrange, inbound):
    msg_id = f"msg_{uuid.uuid4().hex}"
    body = clerk_event("session.created", {"id": "sess_1"})
    response = post(inbound, body, msg_id=msg_id)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert recorded(arrange, msg_id) == 0


def test_a_failing_handler_leaves_no_partial_write(arrange, inbound, clerk, database_dsn):
    """The org and its Clerk link are created before the user; when creating the user fails
    (an uncommitted insert of the same email holds the key), all of it rolls back."""
    clerk_user, clerk_org = new_ids(clerk)
    email = f"{uuid.uuid4().hex[:8]}@example.test"
    body = clerk_event(
        "organizationMembership.created", membership_data(clerk_user, clerk_org, email=email)
    )
    msg_id = f"msg_{uuid.uuid4().hex}"
    with psycopg.connect(database_dsn) as blocker:
        create_user(blocker, NewUser(email=email))
        response = post(inbound, body, msg_id=msg_id)
        assert response.status_code == 500
        assert response.json()["error"] == "handler_failed"
        blocker.rollback()
    assert recorded(arrange, msg_id) == 0
    assert arrange.one(
        "select count(*) as n from private.clerk_orgs where clerk_org_id = %s", (clerk_org,)
    ) == {"n": 0}
    assert user_row(arrange, clerk_user) is None

    retried = post(inbound, body, msg_id=msg_id)  # Svix retries with the same message id
    assert retried.json() == {"status": "applied"}
    assert len(members(arrange, clerk_org)) == 1
