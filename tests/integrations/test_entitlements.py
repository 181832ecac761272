"""Plan limits enforced by the database: seats and active (published) scenarios, with the error
the app shows (SQLSTATE CD402, a sentence to read, a JSON detail to format).

Writes run as the org's admin through `authenticator` with real claims (rolled back); the
orgs and users they need are committed fresh and removed afterwards.
"""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
from integration_support import (  # noqa: F401 (fixtures)
    PASSWORD,
    Arrange,
    arrange_fixture,
    stack_arrange_fixture,
)
from postgrest.exceptions import APIError

from supabase import ClientOptions, create_client


def admin_of(arrange: Arrange, as_user, entitlements: dict[str, int]):
    org = arrange.org(entitlements=entitlements)
    admin = arrange.member(org, role="admin", name="Ada Admin")
    return org, as_user("admin", sub=admin, org_id=org, org_role="admin")


def add_member(conn: psycopg.Connection, org: str, user: str) -> None:
    """Membership by consent: the admin invites, the invitee accepts (claims switched within the
    transaction), and the transaction acts as the admin again."""
    admin = conn.execute("select current_setting('request.jwt.claims') as c").fetchone()["c"]
    invitee = json.dumps({"sub": user, "role": "authenticated"})
    claims = "select set_config('request.jwt.claims', %s, true)"
    conn.execute(claims, (invitee,))
    email = conn.execute("select private.my_confirmed_email() as e").fetchone()["e"]
    conn.execute(claims, (admin,))
    invitation = conn.execute("select invitation_id from invite_member(%s)", (email,)).fetchone()[
        "invitation_id"
    ]
    conn.execute(claims, (invitee,))
    conn.execute("select accept_invitation(%s)", (invitation,))  # a refusal ends the transaction
    conn.execute(claims, (admin,))


def test_seats_stop_the_member_after_the_last_seat(arrange, as_user):
    org, conn = admin_of(arrange, as_user, {"seats": 3})
    users = [arrange.user() for _ in range(3)]
    add_member(conn, org, users[0])
    add_member(conn, org, users[1])

    with pytest.raises(psycopg.Error) as refused:
        add_member(conn, org, users[2])

    error = refused.value
    assert error.sqlstate == "CD402"
    assert error.diag.message_primary == (
        f"seat limit reached: the plan of Org {arrange_slug(arrange, org)} allows 3,"
        f" and Org {arrange_slug(arrange, org)} already uses 3"
    )
    assert json.loads(error.diag.message_detail) == {
        "entitlement": "seats",
        "limit": 3,
        "in_use": 3,
        "org_id": org,
    }
    assert error.diag.message_hint == "Remove a member or upgrade the plan to add more people."


def arrange_slug(arrange: Arrange, org: str) -> str:
    return arrange.one("select slug from orgs where id = %s", (org,))["slug"]


def test_a_missing_key_means_unlimited(arrange, as_user):
    org, conn = admin_of(arrange, as_user, {"active_scenarios": 1})
    for _ in range(12):
        add_member(conn, org, arrange.user())
    assert conn.execute("select count(*) from org_members").fetchone()["count"] == 13


def test_changing_an_existing_member_needs_no_free_seat(arrange, as_user):
    org, conn = admin_of(arrange, as_user, {"seats": 2})
    user = arrange.user()
    add_member(conn, org, user)
    changed = conn.execute(
        "update org_members set role = 'manager' where org_id = %s and user_id = %s"
        " returning role::text",
        (org, user),
    ).fetchone()
    assert changed == {"role": "manager"}


def test_lowering_seats_keeps_everyone_but_adds_no_one(arrange, as_user):
    org, conn = admin_of(arrange, as_user, {"seats": 5})
    add_member(conn, org, arrange.user())
    conn.commit()
    arrange.conn.execute("update orgs set entitlements = '{\"seats\": 1}' where id = %s", (org,))
    conn = as_user(
        "admin",
        sub=arrange.one(
            "select user_id::text as u from org_members where org_id = %s and role = 'admin'",
            (org,),
        )["u"],
        org_id=org,
        org_role="admin",
    )
    assert conn.execute("select count(*) from org_members").fetchone()["count"] == 2
    with pytest.raises(psycopg.Error, match="seat limit reached") as refused:
        add_member(conn, org, arrange.user())
    assert json.loads(refused.value.diag.message_detail)["in_use"] == 2


def test_active_scenarios_limit_publishing_not_drafting(arrange, as_user):
    org, conn = admin_of(arrange, as_user, {"active_scenarios": 1})
    live = arrange.scenario(org, status="published", title="Live")

    draft = conn.execute(
        "insert into scenarios (org_id, title, persona, branching, rubric)"
        " select org_id, 'Draft', persona, branching, rubric from scenarios where id = %s"
        " returning id",
        (live,),
    ).fetchone()["id"]
    with pytest.raises(psycopg.Error) as refused:
        conn.execute("update scenarios set status = 'published' where id = %s", (draft,))
    assert refused.value.sqlstate == "CD402"
    assert refused.value.diag.message_primary.startswith("active scenario limit reached")
    assert refused.value.diag.message_hint == (
        "Archive a published scenario or upgrade the plan to publish more."
    )
    conn.rollback()

    # Archiving the live one frees its slot.
    conn = as_user("admin", sub=admin_id(arrange, org), org_id=org, org_role="admin")
    conn.execute("update scenarios set status = 'archived' where id = %s", (live,))
    published = conn.execute(
        "insert into scenarios (org_id, title, persona, branching, rubric, status)"
        " select org_id, 'Next', persona, branching, rubric, 'published' from scenarios"
        " where id = %s returning status::text",
        (live,),
    ).fetchone()
    assert published == {"status": "published"}
    # A new version of a published scenario is not another one: at the limit it still goes
    # live, replacing the version it supersedes (a published version itself never changes).
    next_id = conn.execute("select id from scenarios where title = 'Next'").fetchone()["id"]
    version = conn.execute("select new_scenario_version(%s) as id", (next_id,)).fetchone()["id"]
    conn.execute("update scenarios set title = 'Next v2' where id = %s", (version,))
    conn.execute("select publish_scenario(%s)", (version,))
    live = conn.execute(
        "select title, version from scenarios where lineage_id = %s and status = 'published'",
        (next_id,),
    ).fetchall()
    assert live == [{"title": "Next v2", "version": 2}]


def admin_id(arrange: Arrange, org: str) -> str:
    return arrange.one(
        "select user_id::text as u from org_members where org_id = %s and role = 'admin'", (org,)
    )["u"]


@pytest.mark.parametrize(
    ("entitlements", "problem"),
    [
        ({"seats": -1}, '"seats" must be a whole number >= 0'),
        ({"active_scenarios": 1.5}, '"active_scenarios" must be a whole number >= 0'),
        ({"retention_days": "90"}, '"retention_days" must be a whole number >= 0'),
    ],
)
def test_malformed_entitlements_are_refused(admin_conn, entitlements, problem):
    with pytest.raises(psycopg.errors.CheckViolation, match=problem):
        admin_conn.execute(
            "update orgs set entitlements = %s where slug = 'globex'", (json.dumps(entitlements),)
        )


def test_two_admins_racing_for_the_last_seat(arrange, database_dsn):
    org = arrange.org(entitlements={"seats": 2})
    arrange.member(org, role="admin")
    first, second = arrange.user(), arrange.user()
    outcome: dict[str, BaseException | None] = {}

    def add(conn: psycopg.Connection, user: str) -> None:
        conn.execute("insert into org_members (org_id, user_id) values (%s, %s)", (org, user))

    with psycopg.connect(database_dsn) as a, psycopg.connect(database_dsn) as b:
        add(a, first)  # holds the org's limit lock until commit

        def contender() -> None:
            try:
                add(b, second)
                b.commit()
                outcome["b"] = None
            except psycopg.Error as exc:
                outcome["b"] = exc
                b.rollback()

        racer = threading.Thread(target=contender)
        racer.start()
        racer.join(timeout=1)
        assert racer.is_alive(), "the second insert must wait for the first"
        a.commit()
        racer.join(timeout=30)

    assert isinstance(outcome["b"], psycopg.Error)
    assert outcome["b"].sqlstate == "CD402"
    assert arrange.one("select count(*) as n from org_members where org_id = %s", (org,)) == {
        "n": 2
    }


def test_the_app_gets_the_error_over_the_api(stack, stack_arrange):
    """What the desktop sees through the official client: code CD402 and the sentence."""
    org = stack_arrange.org(entitlements={"seats": 1})
    admin = stack_arrange.member(org, role="admin", name="Ada")
    email = stack_arrange.one("select email from auth.users where id = %s", (admin,))["email"]
    newcomer = stack_arrange.user()
    newcomer_email = stack_arrange.one("select email from auth.users where id = %s", (newcomer,))
    invitation = (
        signed_in_client(stack, email)
        .rpc("invite_member", {"email": newcomer_email["email"]})
        .execute()
        .data[0]["invitation_id"]
    )
    client = signed_in_client(stack, newcomer_email["email"])

    with pytest.raises(APIError) as refused:
        client.rpc("accept_invitation", {"invitation_id": invitation}).execute()

    assert refused.value.code == "CD402"
    assert refused.value.message.startswith("seat limit reached: the plan of Org it-")
    assert json.loads(refused.value.details)["limit"] == 1
    assert refused.value.hint == "Remove a member or upgrade the plan to add more people."


def signed_in_client(stack, email: str):
    client = create_client(
        stack.url, stack.anon_key, ClientOptions(auto_refresh_token=False, persist_session=False)
    )
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return client
