"""Timestamps and "who did it" columns are the server's on every table (issue 15, item 2).

The tables and columns come from the catalog: every table in `public` with a stamped column
(created_at, updated_at, *_by, *_xid). For each, either no API role holds a privilege to write
any of those columns (the grants are the guard), or a recipe below writes a row as a real user
through the `authenticator` login, sending forged values for every stamped column it may write,
and the row comes back with the server's values. A new table that API roles can write fails
here until it has a recipe, and the recipe fails until the table has the guard
(private.touch_row, private.stamp_actor; docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
import pytest
from db_support import Seed

from server.db.auth_users import NewUser, create_user

DEMO = Seed.DEMO_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}
API_ROLES = ("anon", "authenticated")
FORGED_TIME = "2001-02-03 04:05:06+00"
FORGED_XID = 1
# Someone real (the foreign keys hold) who did none of this.
FORGED_ACTOR = USER["hr"]

STAMPED_COLUMNS = """
    select c.relname as table_name, a.attname as column_name,
           bool_or(has_column_privilege(r.rolname, c.oid, a.attnum, 'INSERT')) as insertable,
           bool_or(has_column_privilege(r.rolname, c.oid, a.attnum, 'UPDATE')) as updatable
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    cross join unnest(%s::text[]) as r (rolname)
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and (a.attname in ('created_at', 'updated_at') or a.attname ~ '_(by|xid)$')
    group by c.relname, a.attname
    order by 1, 2
"""


@dataclass(frozen=True)
class Recipe:
    """How a user who may write the table inserts one row and updates another."""

    who: str
    # column -> SQL expression, selected `from_sql` (so documents can be copied from a seed row)
    insert: dict[str, str]
    update_where: str
    from_sql: str = ""
    update_set: dict[str, str] = field(default_factory=dict)


RECIPES = {
    "teams": Recipe("admin", {"org_id": f"'{DEMO}'", "name": "'Stamped'"}, "name = 'SMB West'"),
    "team_members": Recipe(
        "admin",
        {
            "org_id": f"'{DEMO}'",
            "team_id": "'e0000000-0000-4000-8000-000000000002'",
            "user_id": f"'{USER['trainee']}'",
        },
        f"user_id = '{USER['trainee2']}'",
    ),
    "scenarios": Recipe(
        "admin",
        {
            "org_id": "org_id",
            "title": "'Stamped'",
            "persona": "persona",
            "branching": "branching",
            "rubric": "rubric",
            "status": "'draft'",
        },
        f"id = '{Seed.SCENARIO_COLD_CALL}'",
        from_sql=f"from scenarios where id = '{Seed.SCENARIO_COLD_CALL}'",
    ),
    "tracks": Recipe(
        "admin",
        {"org_id": f"'{DEMO}'", "title": "'Stamped'"},
        "id = 'b0000000-0000-4000-8000-000000000001'",
    ),
    "assignments": Recipe(
        "manager",
        {
            "org_id": f"'{DEMO}'",
            "scenario_id": f"'{Seed.SCENARIO_CFO}'",
            "user_id": f"'{USER['trainee2']}'",
        },
        "id = 'c0000000-0000-4000-8000-000000000001'",
        update_set={"note": "'changed'"},
    ),
}


def _stamped(admin_conn: psycopg.Connection) -> dict[str, list[dict]]:
    tables: dict[str, list[dict]] = {}
    for row in admin_conn.execute(STAMPED_COLUMNS, (list(API_ROLES),)).fetchall():
        tables.setdefault(row["table_name"], []).append(row)
    return tables


def _forged(column: str) -> str:
    if column.endswith("_by"):
        return f"'{FORGED_ACTOR}'"
    if column.endswith("_xid"):
        return str(FORGED_XID)
    return f"'{FORGED_TIME}'"


def test_every_table_an_api_role_can_stamp_has_a_recipe(admin_conn):
    tables = _stamped(admin_conn)
    assert tables, "the catalog query must find the stamped columns"
    writable = {
        name
        for name, columns in tables.items()
        if any(c["insertable"] or c["updatable"] for c in columns)
    }
    missing = sorted(writable - RECIPES.keys())
    assert not missing, (
        f"API roles may write stamped columns of {missing}: give each the guard triggers "
        "(private.touch_row, private.stamp_actor) and a recipe here"
    )


def _writable_columns(admin_conn: psycopg.Connection, table: str, what: str) -> list[str]:
    return [c["column_name"] for c in _stamped(admin_conn)[table] if c[what]]


@pytest.mark.parametrize("table", sorted(RECIPES))
def test_an_insert_gets_the_servers_stamps(table, as_user, admin_conn):
    recipe = RECIPES[table]
    forged = _writable_columns(admin_conn, table, "insertable")
    assert forged, f"{table}: nothing to forge; remove the recipe if the grants guard it"
    values = {**recipe.insert, **{column: _forged(column) for column in forged}}
    conn = as_user(recipe.who)
    row = conn.execute(
        f"insert into {table} ({', '.join(values)}) select {', '.join(values.values())} "
        f"{recipe.from_sql} returning *"
    ).fetchone()
    server = conn.execute(
        "select now() as now, auth.uid() as actor, pg_current_xact_id()::text::bigint as xid"
    ).fetchone()
    _assert_stamped(table, row, forged, server, before=None)


@pytest.mark.parametrize("table", sorted(RECIPES))
def test_an_update_changes_no_stamp_but_updated_at(table, as_user, admin_conn):
    recipe = RECIPES[table]
    forged = _writable_columns(admin_conn, table, "updatable")
    conn = as_user(recipe.who)
    before = conn.execute(f"select * from {table} where {recipe.update_where}").fetchone()
    assert before is not None, f"{table}: the recipe's row must be visible to {recipe.who}"
    changes = {**recipe.update_set, **{column: _forged(column) for column in forged}}
    assignments = ", ".join(f"{column} = {value}" for column, value in changes.items())
    row = conn.execute(
        f"update {table} set {assignments} where {recipe.update_where} returning *"
    ).fetchone()
    assert row is not None, f"{table}: {recipe.who} must be able to update the recipe's row"
    server = conn.execute(
        "select now() as now, auth.uid() as actor, pg_current_xact_id()::text::bigint as xid"
    ).fetchone()
    _assert_stamped(table, row, forged, server, before=before)


def _assert_stamped(table: str, row: dict, forged: list[str], server: dict, before: dict | None):
    for column in forged:
        where = f"{table}.{column}"
        if column == "updated_at":
            assert row[column] == server["now"], where
        elif column == "created_at":
            expected = server["now"] if before is None else before[column]
            assert row[column] == expected, where
        elif column.endswith("_xid"):
            assert row[column] == server["xid"], where
        elif column == "updated_by":  # who last changed it: whoever this was
            assert row[column] == server["actor"], where
        elif column.endswith("_by"):
            expected = server["actor"] if before is None else before[column]
            assert row[column] == expected, where


def test_the_service_role_cannot_backdate_a_row_either(api):
    """touch_row stamps whoever writes: a server job's created_at is the server's too."""
    conn = api.become(Seed.claims("admin"))
    conn.execute("set local role service_role")
    conn.execute("select set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)")
    row = conn.execute(
        "insert into org_members (org_id, user_id, created_at, updated_at)"
        " values (%s, %s, %s, %s) returning created_at = now() and updated_at = now() as fresh",
        (DEMO, USER["globex_trainee"], FORGED_TIME, FORGED_TIME),
    ).fetchone()
    assert row == {"fresh": True}


def test_deleting_a_user_still_clears_who_did_it(admin_conn):
    """The one change stamp_actor allows: ON DELETE SET NULL once the user named is gone."""
    user = create_user(admin_conn, NewUser(email="gone@example.test"))
    admin_conn.execute(
        "insert into tracks (org_id, title, created_by) values (%s, 'Theirs', %s)", (DEMO, user)
    )
    admin_conn.execute("delete from auth.users where id = %s", (user,))
    assert admin_conn.execute(
        "select created_by from tracks where title = 'Theirs'"
    ).fetchone() == {"created_by": None}
