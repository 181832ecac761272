"""The assignments export, the weekly zip and the export.ready event against the running local
stack: HR asks for the assignments CSV and reads each person's standing in it; the job writes a
week's zip of attempts, assignments and leaderboard; every finished export raises export.ready
with a signed URL that fetches the file, delivered signed by the dispatcher; the weekly schedule's
command queues the reports that the worker beside the stack then writes by itself.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from integration_support import (  # noqa: F401 (fixtures)
    Arrange,
    dispatch_once,
    export_job_fixture,
    hook,
    receiver_fixture,
    sign_in,
    stack_arrange_fixture,
)
from postgrest.exceptions import APIError
from psycopg.types.json import Jsonb

from server.exports.job import DOWNLOAD_TTL
from server.exports.reports import ASSIGNMENT_COLUMNS

# What pg_cron runs on Mondays (tests/db/test_reporting.py reads it from cron.job).
WEEKLY_COMMAND = "select private.request_weekly_reports()"


def attempt(arrange: Arrange, org: str, user: str, scenario: str, started: datetime, score: float):
    arrange.conn.execute(
        "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, ended_at,"
        " duration_seconds, status, score, score_breakdown, scored_at)"
        " values (gen_random_uuid(), %s, %s, %s, %s, %s, 300, 'scored', %s, %s, %s)",
        (org, user, scenario, started, started + timedelta(minutes=5), score,
         Jsonb({"score": score, "passed": score >= 70}), started),
    )  # fmt: skip


def assign(arrange: Arrange, org: str, scenario: str, **to: Any) -> str:
    columns = ["org_id", "scenario_id", *to]
    return arrange.one(
        f"insert into assignments ({', '.join(columns)})"
        f" values ({', '.join(['%s'] * len(columns))}) returning id::text",
        (org, scenario, *to.values()),
    )["id"]


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.fixture
def org(stack_arrange: Arrange) -> dict[str, Any]:
    """An org with HR, a manager, two trainees in team East, two scenarios, and the week of
    2026-03-02 with attempts in it and around it."""
    a = stack_arrange
    org = a.org()
    hr = a.member(org, role="hr", name="Hana HR")
    manager = a.member(org, role="manager", name="Maya Manager")
    tara = a.member(org, name="Tara Trainee")
    sam = a.member(org, name="Sam Seller")
    team = a.one("insert into teams (org_id, name) values (%s, 'East') returning id::text", (org,))[
        "id"
    ]
    for user in (tara, sam):
        a.conn.execute(
            "insert into team_members (org_id, team_id, user_id) values (%s, %s, %s)",
            (org, team, user),
        )
    cold = a.scenario(org, title="Cold call")
    discovery = a.scenario(org, title="Discovery")
    week = datetime(2026, 3, 2, tzinfo=UTC)
    attempt(a, org, tara, cold, week + timedelta(days=1), 82)
    attempt(a, org, sam, cold, week + timedelta(days=6, hours=23), 64)
    attempt(a, org, sam, cold, week - timedelta(seconds=1), 30)  # the Sunday before
    attempt(a, org, tara, cold, week + timedelta(days=7), 99)  # the Monday after
    return {"org": org, "hr": hr, "manager": manager, "tara": tara, "sam": sam, "team": team,
            "cold": cold, "discovery": discovery}  # fmt: skip


def test_hr_exports_each_persons_standing_on_each_assignment(stack, stack_arrange, org, job):
    a, now = stack_arrange, datetime.now(UTC)
    tara, sam, cold, discovery = org["tara"], org["sam"], org["cold"], org["discovery"]
    east = assign(a, org["org"], cold, team_id=org["team"], due_at=now - timedelta(hours=1))
    capped = assign(a, org["org"], discovery, user_id=sam, max_attempts=2)
    soon = now + timedelta(days=7)
    higher = assign(a, org["org"], cold, user_id=tara, required_score=100, due_at=soon)
    untouched = assign(a, org["org"], discovery, user_id=tara)
    assign(a, org["org"], cold, user_id=sam, due_at=now - timedelta(days=10))  # before the range
    attempt(a, org["org"], sam, discovery, now - timedelta(hours=3), 40)
    attempt(a, org["org"], sam, discovery, now - timedelta(hours=2), 50)

    hr = sign_in(stack, a, org["hr"])
    today = now.date()
    request = (
        hr.table("export_requests")
        .insert({"org_id": org["org"], "kind": "assignments",
                 "from_date": str(today - timedelta(days=3)), "to_date": str(today)})
        .execute()
        .data[0]
    )  # fmt: skip
    job.run()
    done = hr.table("export_requests").select("*").eq("id", request["id"]).execute().data[0]
    assert done["status"] == "done", done["error"]
    data = hr.storage.from_("exports").download(done["object_name"])
    assert data.decode().splitlines()[0] == ",".join(ASSIGNMENT_COLUMNS)
    rows = read_csv(data)
    assert done["row_count"] == len(rows) == 5
    assert [
        (r["assignment_id"], r["display_name"], r["title"], r["status"], r["best_score"],
         r["attempts"])
        for r in rows
    ] == [
        (east, "Sam Seller", "Cold call", "overdue", "64.00", "2"),
        (east, "Tara Trainee", "Cold call", "passed", "99.00", "2"),
        (capped, "Sam Seller", "Discovery", "failed", "50.00", "2"),
        (higher, "Tara Trainee", "Cold call", "in progress", "99.00", "2"),
        (untouched, "Tara Trainee", "Discovery", "not started", "", "0"),
    ]  # fmt: skip
    assert {(r["team_name"], r["kind"]) for r in rows[:2]} == {("East", "scenario")}
    assert rows[3]["required_score"] == "100.00" and rows[2]["team_name"] == ""

    # Managers keep the attempts and leaderboard exports, not this one.
    manager = sign_in(stack, a, org["manager"])
    with pytest.raises(APIError) as refused:
        manager.table("export_requests").insert(
            {"org_id": org["org"], "kind": "assignments", "from_date": str(today),
             "to_date": str(today)}
        ).execute()  # fmt: skip
    assert refused.value.code == "42501"


def test_the_weekly_zip_holds_the_weeks_attempts_assignments_and_leaderboard(
    stack, stack_arrange, org, job
):
    queued = job.request_weekly_reports(date(2026, 3, 11), only=[uuid.UUID(org["org"])])
    assert queued == 1
    # Once per org and week, whoever asks again (the schedule, the maintenance).
    assert job.request_weekly_reports(date(2026, 3, 9), only=[uuid.UUID(org["org"])]) == 0
    job.run()

    hr = sign_in(stack, stack_arrange, org["hr"])
    [done] = hr.table("export_requests").select("*").eq("kind", "weekly").execute().data
    assert (done["from_date"], done["to_date"], done["status"]) == (
        "2026-03-02",
        "2026-03-08",
        "done",
    )
    assert done["requested_by"] is None
    assert done["object_name"] == f"{org['org']}/weekly/2026-03-02_2026-03-08_{done['id']}.zip"
    archive = zipfile.ZipFile(io.BytesIO(hr.storage.from_("exports").download(done["object_name"])))
    assert archive.namelist() == [
        "attempts.csv",
        "assignments.csv",
        "leaderboard.csv",
        "summary.json",
    ]
    attempts = read_csv(archive.read("attempts.csv"))
    assert sorted((r["display_name"], r["score"]) for r in attempts) == [
        ("Sam Seller", "64.00"),
        ("Tara Trainee", "82.00"),
    ]
    board = read_csv(archive.read("leaderboard.csv"))
    assert [(r["rank"], r["display_name"]) for r in board] == [
        ("1", "Tara Trainee"),
        ("2", "Sam Seller"),
    ]
    # The org's assignments were all made after that week: the header alone.
    assert archive.read("assignments.csv").decode().strip() == ",".join(ASSIGNMENT_COLUMNS)
    summary = json.loads(archive.read("summary.json"))
    assert summary["rows"] == {"attempts": 2, "assignments": 0, "leaderboard": 2}
    assert (summary["from"], summary["to"]) == ("2026-03-02", "2026-03-08")


def test_a_finished_export_raises_export_ready_with_a_url_that_fetches_it(
    stack, stack_arrange, org, job, receiver
):
    endpoint = hook(stack_arrange, receiver, org["org"], ("export.ready",))
    manager = sign_in(stack, stack_arrange, org["manager"])
    request = (
        manager.table("export_requests")
        .insert({"org_id": org["org"], "kind": "leaderboard", "from_date": "2026-03-02",
                 "to_date": "2026-03-08"})
        .execute()
        .data[0]
    )  # fmt: skip
    before = datetime.now(UTC)
    job.run()

    [delivery] = stack_arrange.conn.execute(
        "select id, payload from webhook_deliveries where org_id = %s and event = 'export.ready'",
        (org["org"],),
    ).fetchall()
    done = manager.table("export_requests").select("*").eq("id", request["id"]).execute().data[0]
    data = delivery["payload"]["data"]
    stored = manager.storage.from_("exports").download(done["object_name"])
    assert data == {
        "org_id": org["org"],
        "export_id": request["id"],
        "kind": "leaderboard",
        "from_date": "2026-03-02",
        "to_date": "2026-03-08",
        "bucket": "exports",
        "object_name": done["object_name"],
        "content_type": "text/csv",
        "size_bytes": len(stored),
        "row_count": 2,
        "download_url": data["download_url"],
        "download_expires_at": data["download_expires_at"],
        "completed_at": data["completed_at"],
    }
    expires = datetime.fromisoformat(data["download_expires_at"])
    assert before + DOWNLOAD_TTL <= expires <= datetime.now(UTC) + DOWNLOAD_TTL
    assert data["download_url"].startswith(f"{stack.url}/storage/v1/object/sign/exports/")
    # No account needed: the URL is the credential, until it expires.
    fetched = httpx.get(data["download_url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == stored

    # Delivered as every event is: signed, verified by the receiver's Standard Webhooks check.
    assert dispatch_once(stack.dsn) >= 1
    [got] = receiver.for_path(endpoint["path"])
    assert got.error is None, got.error
    assert got.payload["type"] == "export.ready" and got.payload["data"] == data


def test_nobody_listening_signs_nothing_and_queues_nothing(stack, stack_arrange, org, job):
    stack_arrange.webhook(org["org"], "https://example.com/hook", ("attempt.scored",))
    job.request_weekly_reports(date(2026, 3, 11), only=[uuid.UUID(org["org"])])
    job.run()
    assert stack_arrange.conn.execute(
        "select count(*) as n from webhook_deliveries where org_id = %s", (org["org"],)
    ).fetchone()["n"] == 0  # fmt: skip


def test_the_schedules_command_queues_reports_that_the_worker_writes_by_itself(
    stack_arrange, org, receiver, export_worker
):
    """What pg_cron runs on Mondays, then nothing by hand: the worker beside the stack (as
    `coachdesk stack` starts it) writes last week's zip and delivers export.ready."""
    a = stack_arrange
    endpoint = hook(a, receiver, org["org"], ("export.ready",))
    before = {r["id"] for r in a.conn.execute("select id from export_requests").fetchall()}
    a.conn.execute(WEEKLY_COMMAND)
    ours = a.one(
        "select id, from_date, to_date from export_requests where org_id = %s and kind = 'weekly'",
        (org["org"],),
    )
    monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
    assert (ours["from_date"], ours["to_date"]) == (monday - timedelta(7), monday - timedelta(1))
    try:
        deadline = time.monotonic() + 60
        while not receiver.for_path(endpoint["path"]):
            assert time.monotonic() < deadline, "no export.ready from the worker within 60 s"
            time.sleep(0.1)
    finally:
        # Other orgs' reports of that week, which the command queued too, leave with the test.
        a.conn.execute(
            "delete from export_requests where kind = 'weekly' and org_id <> %s"
            " and not (id = any(%s::uuid[]))",
            (org["org"], list(before)),
        )
    done = a.one("select * from export_requests where id = %s", (ours["id"],))
    assert done["status"] == "done" and done["object_name"].endswith(".zip")
    [got] = receiver.for_path(endpoint["path"])
    assert got.error is None, got.error
    assert got.payload["type"] == "export.ready"
    assert got.payload["data"]["object_name"] == done["object_name"]
    assert got.payload["data"]["kind"] == "weekly"
