"""Every cell of the role × table × operation matrix in docs/security.md, through RLS.

Each cell acts as a seed user of the demo org via the `authenticator` login, switched to
`authenticated` with real JWT claims (like PostgREST). Outcomes:
  "all"   – select: sees exactly the rows the rule names (compared with the superuser's view);
  "ok"    – the write affects exactly the row (checked with RETURNING);
  "none"  – the write affects nothing: a USING clause hides the row (no error is raised);
  "deny"  – the write is refused with 42501 (missing grant, or a failed WITH CHECK).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
import pytest
from db_support import Seed

ROLES = ("trainee", "manager", "admin", "hr")
DEMO = Seed.DEMO_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}


@dataclass(frozen=True)
class Table:
    name: str
    # Superuser predicate for the rows each role may see (params: %(uid)s, %(org)s).
    visible: dict[str, str]
    insert_sql: str
    insert: dict[str, str]
    update_sql: str
    update: dict[str, str]
    delete_sql: str
    delete: dict[str, str]
    # False: the seed has no rows of the table (its select cells are shown elsewhere).
    seeded: bool = True


def _each(outcome: str, **exceptions: str) -> dict[str, str]:
    return {role: exceptions.get(role, outcome) for role in ROLES}


ORG_ROWS = "org_id = %(org)s"
# A cell whose rule shows the role no row at all.
NOTHING = "false"
MATRIX = [
    Table(
        "orgs",
        visible=_each("id = %(org)s"),
        insert_sql="insert into orgs (name, slug) values ('X', 'x-org') returning id",
        insert=_each("deny"),
        update_sql=f"update orgs set name = name || '!' where id = '{DEMO}' returning id",
        update=_each("none", admin="ok"),
        delete_sql=f"delete from orgs where id = '{DEMO}' returning id",
        delete=_each("deny"),
    ),
    Table(
        "org_members",
        visible=_each(ORG_ROWS),
        insert_sql=(
            f"insert into org_members (org_id, user_id, role) values ('{DEMO}', "
            f"'{USER['globex_trainee']}', 'trainee') returning id"
        ),
        # Membership comes from an accepted invitation (tests/db/test_membership_consent.py).
        insert=_each("deny"),
        update_sql=(
            "update org_members set display_name = 'Renamed' "
            f"where user_id = '{USER['trainee2']}' and org_id = '{DEMO}' returning id"
        ),
        update=_each("none", admin="ok"),
        delete_sql=(
            f"delete from org_members where user_id = '{USER['trainee2']}' "
            f"and org_id = '{DEMO}' returning id"
        ),
        delete=_each("none", admin="ok"),
    ),
    Table(
        "teams",
        visible=_each(ORG_ROWS),
        insert_sql=f"insert into teams (org_id, name) values ('{DEMO}', 'New team') returning id",
        insert=_each("deny", admin="ok"),
        update_sql="update teams set name = name || '!' where name = 'SMB West' returning id",
        update=_each("none", admin="ok"),
        delete_sql="delete from teams where name = 'SMB West' returning id",
        delete=_each("none", admin="ok"),
    ),
    Table(
        "team_members",
        visible=_each(ORG_ROWS),
        insert_sql=(
            f"insert into team_members (org_id, team_id, user_id) values ('{DEMO}', "
            f"'e0000000-0000-4000-8000-000000000001', '{USER['trainee2']}') returning id"
        ),
        insert=_each("deny", admin="ok"),
        update_sql=(
            "update team_members set updated_at = now() "
            f"where user_id = '{USER['trainee2']}' returning id"
        ),
        update=_each("none", admin="ok"),
        delete_sql=f"delete from team_members where user_id = '{USER['trainee2']}' returning id",
        delete=_each("none", admin="ok"),
    ),
    Table(
        "scenarios",
        visible=_each("org_id = %(org)s and status <> 'draft'", manager=ORG_ROWS, admin=ORG_ROWS),
        insert_sql=(
            "insert into scenarios (org_id, title, persona, branching, rubric) "
            f"select '{DEMO}', 'Copy', persona, branching, rubric from scenarios "
            f"where id = '{Seed.SCENARIO_COLD_CALL}' returning id"
        ),
        # A trainee's SELECT cannot reach a source row it may not see; the copy is from a
        # published scenario all roles see, so refusals come from the INSERT policy itself.
        insert=_each("deny", admin="ok"),
        # A draft: a published version's content never changes, for anyone
        # (tests/db/test_scenario_versions.py); the trainee and hr see no draft, and the
        # manager's USING refuses it, so each cell is still the policy's answer.
        update_sql=(
            f"update scenarios set title = title || '!' where id = '{Seed.SCENARIO_DRAFT}' "
            "returning id"
        ),
        update=_each("none", admin="ok"),
        delete_sql=f"delete from scenarios where id = '{Seed.SCENARIO_CFO}' returning id",
        delete=_each("none", admin="ok"),
    ),
    Table(
        "tracks",
        visible=_each("org_id = %(org)s and status <> 'draft'", manager=ORG_ROWS, admin=ORG_ROWS),
        insert_sql=f"insert into tracks (org_id, title) values ('{DEMO}', 'T') returning id",
        insert=_each("deny", admin="ok"),
        update_sql=(
            "update tracks set title = title || '!' "
            "where id = 'b0000000-0000-4000-8000-000000000001' returning id"
        ),
        update=_each("none", admin="ok"),
        delete_sql="delete from tracks where id = 'b0000000-0000-4000-8000-000000000001' "
        "returning id",
        delete=_each("none", admin="ok"),
    ),
    Table(
        "track_scenarios",
        visible=_each(ORG_ROWS),
        insert_sql=(
            f"insert into track_scenarios (org_id, track_id, scenario_id, position) values "
            f"('{DEMO}', 'b0000000-0000-4000-8000-000000000001', "
            f"'{Seed.SCENARIO_DRAFT}', 4) returning id"
        ),
        # Admins change a track's scenarios through set_track_scenarios only (one audited
        # transaction; tests/db/test_track_order.py): no API role writes the rows.
        insert=_each("deny"),
        update_sql=(
            "update track_scenarios set position = 9 "
            f"where scenario_id = '{Seed.SCENARIO_INCUMBENT}' returning id"
        ),
        update=_each("deny"),
        delete_sql=(
            f"delete from track_scenarios where scenario_id = '{Seed.SCENARIO_INCUMBENT}' "
            "returning id"
        ),
        delete=_each("deny"),
    ),
    Table(
        "assignments",
        visible=_each(
            ORG_ROWS,
            trainee=(
                "org_id = %(org)s and (user_id = %(uid)s or team_id in "
                "(select team_id from team_members where user_id = %(uid)s))"
            ),
        ),
        insert_sql=(
            f"insert into assignments (org_id, scenario_id, user_id, due_at) values ('{DEMO}', "
            f"'{Seed.SCENARIO_CFO}', '{USER['trainee2']}', now() + interval '1 day') returning id"
        ),
        insert=_each("deny", manager="ok", admin="ok"),
        update_sql=(
            "update assignments set due_at = now() "
            "where id = 'c0000000-0000-4000-8000-000000000001' returning id"
        ),
        update=_each("none", manager="ok", admin="ok"),
        delete_sql="delete from assignments where id = 'c0000000-0000-4000-8000-000000000001' "
        "returning id",
        delete=_each("none", manager="ok", admin="ok"),
    ),
    Table(
        "scenario_attempts",
        visible=_each(ORG_ROWS, trainee="org_id = %(org)s and user_id = %(uid)s"),
        insert_sql=(
            "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at) "
            f"values (gen_random_uuid(), '{DEMO}', %(uid)s, '{Seed.SCENARIO_COLD_CALL}', now()) "
            "returning id"
        ),
        insert=_each("ok"),
        # Someone else's attempt (trainee2's): only its owner may change it.
        update_sql=(
            "update scenario_attempts set device_id = 'x' "
            f"where user_id = '{USER['trainee2']}' returning id"
        ),
        update=_each("none"),
        delete_sql="delete from scenario_attempts returning id",
        delete=_each("deny"),
    ),
    Table(
        "audit_events",
        # The seed's own actions are events of the demo org (tests/db/test_audit_log.py).
        visible=_each(NOTHING, admin=ORG_ROWS, hr=ORG_ROWS),
        insert_sql=(
            "insert into audit_events (org_id, acting_as, action, target_table, target_id) "
            f"values ('{DEMO}', 'x', 'team.created', 'teams', gen_random_uuid()) returning id"
        ),
        # Append-only, written by triggers only: no API role holds INSERT, UPDATE or DELETE.
        insert=_each("deny"),
        update_sql="update audit_events set details = '{}' returning id",
        update=_each("deny"),
        delete_sql="delete from audit_events returning id",
        delete=_each("deny"),
    ),
    Table(
        "notifications",
        # Each member reads their own; the seed has none: tests/db/test_reminders.py makes
        # reminders with remind_assignment() and shows that only the recipient reads them.
        visible=_each("org_id = %(org)s and user_id = %(uid)s"),
        seeded=False,
        insert_sql=(
            "insert into notifications (org_id, user_id, kind, assignment_id) values "
            f"('{DEMO}', %(uid)s, 'assignment.reminder', 'c0000000-0000-4000-8000-000000000001')"
            " returning id"
        ),
        # Only remind_assignment() writes them; the recipient may set read_at, nothing else.
        insert=_each("deny"),
        update_sql="update notifications set message = 'x' returning id",
        update=_each("deny"),
        delete_sql="delete from notifications returning id",
        delete=_each("deny"),
    ),
]


def _cells(operation: str) -> list:
    return [
        pytest.param(table, role, id=f"{table.name}-{role}-{operation}")
        for table in MATRIX
        for role in ROLES
    ]


def _outcome(conn: psycopg.Connection, sql: str, params: dict) -> str:
    try:
        rows = conn.execute(sql, params).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        return "deny"
    return "ok" if rows else "none"


@pytest.mark.parametrize(("table", "role"), _cells("select"))
def test_select(table, role, as_user, admin_conn):
    params = {"uid": USER[role], "org": DEMO}
    expected = {
        r["id"]
        for r in admin_conn.execute(
            f"select id from {table.name} where {table.visible[role]}", params
        )
    }
    conn = as_user(role)
    seen = {r["id"] for r in conn.execute(f"select id from {table.name}")}
    assert expected or table.visible[role] == NOTHING or not table.seeded, (
        "the seed should give the cell rows to see"
    )
    assert seen == expected


@pytest.mark.parametrize(("table", "role"), _cells("insert"))
def test_insert(table, role, as_user):
    params = {"uid": USER[role]}
    assert _outcome(as_user(role), table.insert_sql, params) == table.insert[role]


@pytest.mark.parametrize(("table", "role"), _cells("update"))
def test_update(table, role, as_user):
    assert _outcome(as_user(role), table.update_sql, {}) == table.update[role]


@pytest.mark.parametrize(("table", "role"), _cells("delete"))
def test_delete(table, role, as_user):
    assert _outcome(as_user(role), table.delete_sql, {}) == table.delete[role]


@pytest.mark.parametrize("role", ROLES)
def test_everyone_completes_their_own_attempt(role, as_user):
    conn = as_user(role)
    attempt = str(uuid.uuid4())
    conn.execute(
        "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at)"
        " values (%s, %s, %s, %s, now())",
        (attempt, DEMO, USER[role], Seed.SCENARIO_COLD_CALL),
    )
    done = conn.execute(
        "update scenario_attempts set ended_at = started_at + interval '1 minute',"
        " recording_path = %s where id = %s returning id",
        (f"{DEMO}/{USER[role]}/{attempt}.flac", attempt),
    ).fetchall()
    assert len(done) == 1


def test_policy_and_attempt_visible_helper_agree(as_user, admin_conn):
    """The select policy states private.attempt_visible() inline; they must not drift apart."""
    all_attempts = admin_conn.execute(
        "select id, org_id, user_id from scenario_attempts"
    ).fetchall()
    for key in ("trainee", "manager", "hr", "globex_manager", "consultant_demo"):
        conn = as_user(key)
        visible = {r["id"] for r in conn.execute("select id from scenario_attempts")}
        helper = {
            a["id"]
            for a in all_attempts
            if conn.execute(
                "select private.attempt_visible(%s, %s)", (a["org_id"], a["user_id"])
            ).fetchone()["attempt_visible"]
        }
        assert visible == helper, key
