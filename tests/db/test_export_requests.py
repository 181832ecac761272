"""Who may ask for which export (export_requests' insert policy), and the weekly report's queue:
as API roles through `authenticator` with real claims; everything is rolled back.

- attempts and leaderboard: managers, admins and hr; assignments: admins and hr only;
- weekly: nobody (the schedule and the export job queue it, as the service);
- private.request_weekly_reports queues last ISO week once per org, and only the service runs it.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from db_support import Claims, Seed

DEMO = Seed.DEMO_ORG
SERVICE = Claims(sub=None, role="service_role")
WHO_MAY = {
    "attempts": {"manager", "admin", "hr"},
    "leaderboard": {"manager", "admin", "hr"},
    "assignments": {"admin", "hr"},
    "weekly": set(),
}
ROLES = ("trainee", "manager", "admin", "hr", "globex_admin")


def _ask(conn: psycopg.Connection, kind: str) -> str | None:
    """The request's id, or the SQLSTATE of the refusal."""
    conn.execute("savepoint ask")
    try:
        row = conn.execute(
            "insert into export_requests (org_id, kind, from_date, to_date)"
            " values (%s, %s, '2026-03-01', '2026-03-31') returning id",
            (DEMO, kind),
        ).fetchone()
    except psycopg.Error as error:
        conn.execute("rollback to savepoint ask")
        return error.sqlstate
    conn.execute("release savepoint ask")
    return str(row["id"])


@pytest.mark.parametrize("kind", sorted(WHO_MAY))
def test_who_may_ask_for_each_kind(api, kind):
    for role in ROLES:
        conn = api.become(Seed.claims(role))
        outcome = _ask(conn, kind)
        if role in WHO_MAY[kind]:
            assert outcome is not None and len(outcome) == 36, (role, kind, outcome)
        else:
            assert outcome == "42501", (role, kind, outcome)


def test_the_weekly_report_is_queued_once_per_org_and_week(api):
    conn = api.become(SERVICE)
    queued = "select private.request_weekly_reports(%s, %s::uuid[]) as n"
    # A Wednesday, then the Monday after the same week (its own week starts that day).
    assert conn.execute(queued, (date(2026, 3, 11), [DEMO])).fetchone()["n"] == 1
    assert conn.execute(queued, (date(2026, 3, 15), [DEMO])).fetchone()["n"] == 0
    rows = conn.execute(
        "select from_date, to_date, status, requested_by from export_requests"
        " where org_id = %s and kind = 'weekly' and from_date = '2026-03-02'",
        (DEMO,),
    ).fetchall()
    assert rows == [
        {
            "from_date": date(2026, 3, 2),
            "to_date": date(2026, 3, 8),
            "status": "pending",
            "requested_by": None,
        }
    ]
    assert conn.execute(queued, (date(2026, 3, 16), [DEMO])).fetchone()["n"] == 1


@pytest.mark.parametrize("role", ["admin", "hr"])
def test_members_cannot_queue_weekly_reports(api, role):
    conn = api.become(Seed.claims(role))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select private.request_weekly_reports()")


def test_the_export_ready_event_is_one_an_endpoint_may_subscribe_to(api):
    conn = api.become(Seed.claims("admin"))
    created = conn.execute(
        "insert into webhooks (org_id, url, events) values (%s, %s, %s) returning events",
        (DEMO, "https://example.com/exports", ["export.ready"]),
    ).fetchone()
    assert created["events"] == ["export.ready"]
