"""Reminders in the database: remind_assignment() for managers and admins of the org, only the
people still assigned and not passed, once an hour per person; the recipient reads and
dismisses their own notifications and nothing else.

As API roles through `authenticator` with real claims; everything is rolled back.
"""

from __future__ import annotations

import psycopg
import pytest
from db_support import Claims, Seed, act

DEMO = Seed.DEMO_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}
SERVICE = Claims(sub=None, role="service_role")
# supabase/seed.sql: Tara's overdue cold call (which she has since passed, unassigned), her
# onboarding track, the SMB West team's CFO call (the consultant passed it, Theo did not) and
# Theo's incumbent call.
COLD_CALL_TARA = "c0000000-0000-4000-8000-000000000001"
TRACK_TARA = "c0000000-0000-4000-8000-000000000002"
CFO_SMB_WEST = "c0000000-0000-4000-8000-000000000003"
INCUMBENT_THEO = "c0000000-0000-4000-8000-000000000004"
GLOBEX_ASSIGNMENT = "c0000000-0000-4000-8000-000000000011"


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("manager"))


def remind(conn: psycopg.Connection, assignment: str, users=None, note: str = "") -> list[dict]:
    return conn.execute(
        "select * from remind_assignment(%s, %s::uuid[], %s)", (assignment, users, note)
    ).fetchall()


def refused(conn: psycopg.Connection, *args) -> psycopg.Error:
    conn.execute("savepoint try")
    with pytest.raises(psycopg.Error) as error:
        remind(conn, *args)
    conn.execute("rollback to savepoint try")
    return error.value


def test_everyone_not_yet_passed_is_reminded_with_the_note(conn):
    made = remind(conn, CFO_SMB_WEST, None, "  Before Friday, please.  ")
    assert [str(n["user_id"]) for n in made] == [USER["trainee2"]]  # the consultant passed
    [note] = made
    assert note["kind"] == "assignment.reminder"
    assert note["message"] == "Before Friday, please."
    assert str(note["created_by"]) == USER["manager"]
    assert note["read_at"] is None and note["sync_xid"] > 0
    assert str(note["org_id"]) == DEMO


def test_a_person_who_passed_or_is_not_assigned_is_refused_by_name(conn):
    passed = refused(conn, CFO_SMB_WEST, [USER["consultant_demo"]])
    assert passed.sqlstate == "CD409"
    assert passed.diag.message_detail == USER["consultant_demo"]
    stranger = refused(conn, CFO_SMB_WEST, [USER["trainee"]])
    assert stranger.sqlstate == "22023"
    # Tara passed the cold call after it was assigned, outside the assignment: she is done.
    everyone_passed = refused(conn, COLD_CALL_TARA)
    assert everyone_passed.sqlstate == "CD409"
    assert "nobody to remind" in everyone_passed.diag.message_primary


def test_once_an_hour_per_person_and_assignment(conn):
    assert len(remind(conn, INCUMBENT_THEO, [USER["trainee2"]])) == 1
    again = refused(conn, INCUMBENT_THEO, [USER["trainee2"]])
    assert again.sqlstate == "CD429"
    assert again.diag.message_detail == USER["trainee2"]
    assert again.diag.message_hint.startswith("Remind them again after ")
    assert refused(conn, INCUMBENT_THEO).sqlstate == "CD429"  # everyone is only Theo
    # Another assignment is another reminder.
    assert len(remind(conn, CFO_SMB_WEST)) == 1


def test_an_hour_later_they_may_be_reminded_again(admin_conn):
    # A reminder 61 minutes old, written as the superuser with the stamping triggers off.
    admin_conn.execute("set local session_replication_role = replica")
    admin_conn.execute(
        "insert into notifications (org_id, user_id, kind, assignment_id, created_by, created_at)"
        " values (%s, %s, 'assignment.reminder', %s, %s, now() - interval '61 minutes')",
        (DEMO, USER["trainee2"], INCUMBENT_THEO, USER["manager"]),
    )
    admin_conn.execute("set local session_replication_role = origin")
    act(admin_conn, "manager")
    assert len(remind(admin_conn, INCUMBENT_THEO, [USER["trainee2"]])) == 1


def test_a_team_reminder_skips_whoever_was_reminded_this_hour(conn):
    act(conn, SERVICE)
    conn.execute(
        "update scenario_attempts set score = 10 where user_id = %s", (USER["consultant_demo"],)
    )
    act(conn, "manager")
    assert len(remind(conn, CFO_SMB_WEST, [USER["trainee2"]])) == 1
    made = remind(conn, CFO_SMB_WEST)
    assert [str(n["user_id"]) for n in made] == [USER["consultant_demo"]]


@pytest.mark.parametrize("who", ["trainee", "hr", "globex_manager"])
def test_only_managers_and_admins_of_the_org_remind(api, who):
    conn = api.become(Seed.claims(who))
    error = refused(conn, INCUMBENT_THEO)
    assert isinstance(error, psycopg.errors.InsufficientPrivilege)


def test_an_admin_reminds_and_another_orgs_assignment_reads_as_absent(api):
    conn = api.become(Seed.claims("admin"))
    assert len(remind(conn, INCUMBENT_THEO)) == 1
    conn = api.become(Seed.claims("manager"))
    error = refused(conn, GLOBEX_ASSIGNMENT)
    assert isinstance(error, psycopg.errors.InsufficientPrivilege)
    conn = api.become(Claims(sub=None, role="anon"))
    assert isinstance(refused(conn, INCUMBENT_THEO), psycopg.errors.InsufficientPrivilege)


def test_nobody_writes_a_notification_directly(conn):
    for who in ("manager", "admin", "trainee2"):
        act(conn, who)
        conn.execute("savepoint try")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "insert into notifications (org_id, user_id, kind, assignment_id) "
                "values (%s, %s, 'assignment.reminder', %s)",
                (DEMO, USER["trainee2"], INCUMBENT_THEO),
            )
        conn.execute("rollback to savepoint try")


def test_the_recipient_reads_and_dismisses_their_own_only(conn):
    [note] = remind(conn, INCUMBENT_THEO, None, "your turn")
    for who in ("manager", "admin", "hr", "trainee"):
        act(conn, who)
        assert conn.execute("select id from notifications").fetchall() == [], who
        dismissed = conn.execute("update notifications set read_at = now() returning id")
        assert dismissed.fetchall() == []
    act(conn, "trainee2")
    [seen] = conn.execute("select id, message, read_at from notifications").fetchall()
    assert seen["id"] == note["id"] and seen["message"] == "your turn"
    for change in ("message = 'forged'", "user_id = user_id", "created_at = now()"):
        conn.execute("savepoint try")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"update notifications set {change}")
        conn.execute("rollback to savepoint try")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("delete from notifications")


def test_a_dismissal_stays_and_is_never_in_the_future(conn):
    [note] = remind(conn, INCUMBENT_THEO)
    act(conn, "trainee2")
    [first] = conn.execute(
        "update notifications set read_at = now() + interval '1 day' "
        "returning read_at, read_at <= now() as not_future, sync_xid"
    ).fetchall()
    assert first["not_future"]
    for later in ("null", "now() - interval '1 day'"):
        [row] = conn.execute(
            f"update notifications set read_at = {later} returning read_at"
        ).fetchall()
        assert row["read_at"] == first["read_at"]
    assert first["sync_xid"] >= note["sync_xid"]


def test_a_withdrawn_assignment_takes_its_reminders_along_with_a_tombstone(conn):
    [note] = remind(conn, INCUMBENT_THEO)
    conn.execute("delete from assignments where id = %s", (INCUMBENT_THEO,))
    act(conn, "trainee2")
    tombstones = conn.execute(
        "select table_name from deleted_rows where row_id = %s", (note["id"],)
    ).fetchall()
    assert [t["table_name"] for t in tombstones] == ["notifications"]
    act(conn, "trainee")
    assert (
        conn.execute("select 1 from deleted_rows where row_id = %s", (note["id"],)).fetchall() == []
    )


def test_old_notifications_are_purged_and_leave_tombstones_for_their_recipient(admin_conn):
    # As pg_cron runs it: the database owner, on rows of every age.
    def notification(read_at: str | None, created_at: str = "now()") -> str:
        made = admin_conn.execute(
            "insert into notifications (org_id, user_id, kind, assignment_id, read_at)"
            f" values (%s, %s, 'assignment.reminder', %s, {read_at or 'null'}) returning id",
            (DEMO, USER["trainee2"], INCUMBENT_THEO),
        ).fetchone()["id"]
        # touch_row stamps created_at and keeps it on update: age it with triggers off.
        admin_conn.execute("set local session_replication_role = replica")
        admin_conn.execute(
            f"update notifications set created_at = {created_at} where id = %s", (made,)
        )
        admin_conn.execute("set local session_replication_role = origin")
        return made

    gone = [
        notification("now() - interval '91 days'"),  # dismissed long ago
        notification(None, "now() - interval '13 months'"),  # never read, a year old
    ]
    kept = [
        notification("now() - interval '89 days'"),
        notification(None, "now() - interval '11 months'"),
    ]
    assert admin_conn.execute("select private.purge_notifications() as n").fetchone()["n"] == 2
    left = admin_conn.execute(
        "select id from notifications where id = any(%s)", ([*gone, *kept],)
    ).fetchall()
    assert {row["id"] for row in left} == set(kept)
    tombstones = admin_conn.execute(
        "select owner_id::text as owner from deleted_rows"
        " where table_name = 'notifications' and row_id = any(%s)",
        (gone,),
    ).fetchall()
    assert [t["owner"] for t in tombstones] == [USER["trainee2"]] * 2


def test_no_api_role_may_purge_notifications(conn):
    for who in ("manager", "admin", "trainee"):
        act(conn, who)
        conn.execute("savepoint try")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select private.purge_notifications()")
        conn.execute("rollback to savepoint try")
