"""The People screen's rules in the database: an org keeps an admin, a removed member's
attempts stay (and are exported), and org_people() answers admins only.

As API roles through `authenticator` with real claims; everything is rolled back.
"""

from __future__ import annotations

import psycopg
import pytest
from db_support import Claims, Seed, act

DEMO = Seed.DEMO_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}
SERVICE = Claims(sub=None, role="service_role")


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("admin"))


def _role(conn: psycopg.Connection, key: str) -> str:
    act(conn, SERVICE)
    return conn.execute(
        "select role::text from org_members where org_id = %s and user_id = %s",
        (DEMO, USER[key]),
    ).fetchone()["role"]


def test_the_last_admin_can_be_neither_demoted_nor_removed(conn):
    for statement in (
        "update org_members set role = 'manager' where org_id = %s and user_id = %s",
        "delete from org_members where org_id = %s and user_id = %s",
    ):
        conn.execute("savepoint try")
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(statement, (DEMO, USER["admin"]))
        assert refused.value.sqlstate == "CD409"
        assert refused.value.diag.message_hint == "Make another member an admin first."
        conn.execute("rollback to savepoint try")
    assert _role(conn, "admin") == "admin"


def test_with_a_second_admin_the_first_may_step_down(conn):
    conn.execute(
        "update org_members set role = 'admin' where org_id = %s and user_id = %s",
        (DEMO, USER["manager"]),
    )
    changed = conn.execute(
        "update org_members set role = 'trainee' where org_id = %s and user_id = %s returning id",
        (DEMO, USER["admin"]),
    ).fetchall()
    assert len(changed) == 1
    act(conn, "manager")  # now the only admin
    conn.execute("savepoint try")
    with pytest.raises(psycopg.Error) as refused:
        conn.execute(
            "delete from org_members where org_id = %s and user_id = %s", (DEMO, USER["manager"])
        )
    assert refused.value.sqlstate == "CD409"


def test_the_service_role_mirrors_what_the_identity_provider_decided(conn):
    """Clerk or Stripe receivers act as the service role: the rule is the API admins'."""
    act(conn, SERVICE)
    conn.execute(
        "update org_members set role = 'manager' where org_id = %s and user_id = %s",
        (DEMO, USER["admin"]),
    )
    assert _role(conn, "admin") == "manager"


def test_an_org_goes_with_its_last_admin(admin_conn):
    admin_conn.execute("delete from orgs where id = %s", (Seed.GLOBEX_ORG,))
    left = admin_conn.execute(
        "select count(*) as n from org_members where org_id = %s", (Seed.GLOBEX_ORG,)
    ).fetchone()
    assert left["n"] == 0


def test_a_removed_members_attempts_stay_and_are_exported(conn, admin_conn):
    def attempts() -> int:
        act(conn, SERVICE)
        return conn.execute(
            "select count(*) as n from scenario_attempts where org_id = %s and user_id = %s",
            (DEMO, USER["trainee"]),
        ).fetchone()["n"]

    before = attempts()
    assert before > 0
    act(conn, "admin")
    removed = conn.execute(
        "delete from org_members where org_id = %s and user_id = %s returning id",
        (DEMO, USER["trainee"]),
    ).fetchall()
    assert len(removed) == 1
    assert attempts() == before
    act(conn, SERVICE)
    exported = conn.execute(
        "select count(*) as n from private.export_attempts(%s, '2000-01-01', '2100-01-01')"
        " where user_id = %s",
        (DEMO, USER["trainee"]),
    ).fetchone()
    assert exported["n"] == before


def test_org_people_is_for_admins_of_the_org(conn):
    people = conn.execute("select user_id::text, email, role::text from org_people()").fetchall()
    by_id = {p["user_id"]: p for p in people}
    assert by_id[USER["trainee"]]["email"] == "trainee@demo.coachdesk.test"
    assert USER["globex_trainee"] not in by_id
    for key in ("trainee", "manager", "hr"):
        act(conn, key)
        conn.execute("savepoint try")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from org_people()")
        conn.execute("rollback to savepoint try")
