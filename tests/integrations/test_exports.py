"""Exports and storage expiry against the running local stack: a manager asks for a CSV through
the API, the job writes it to the `exports` bucket with the service key, and the manager opens
it with the same client (and a signed URL); monthly zips; tmp and retention expiry.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import zipfile
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from integration_support import (  # noqa: F401 (fixtures)
    Arrange,
    export_job_fixture,
    sign_in,
    stack_arrange_fixture,
)
from postgrest.exceptions import APIError
from psycopg.types.json import Jsonb
from storage3.exceptions import StorageApiError

from server.exports.job import ExportJob, StorageTarget, previous_month
from server.integrations import start_worker
from supabase import Client, ClientOptions, create_client

MARCH = ("2026-03-01", "2026-03-31")
KPIS = {"talk_ratio": 0.45, "questions_asked": 3, "words_per_minute": 141.5}


def attempt(
    arrange: Arrange,
    org: str,
    user: str,
    scenario: str,
    started: str,
    score: float | None,
    passed: bool | None = None,
    **extra: Any,
) -> str:
    status = "scored" if score is not None else "failed"
    return arrange.one(
        "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, ended_at,"
        " duration_seconds, status, failure_reason, score, score_breakdown, kpis, scored_at,"
        " recording_path)"
        " values (gen_random_uuid(), %s, %s, %s, %s, %s::timestamptz + interval '5 minutes',"
        " 300, %s, %s, %s, %s, %s, %s, %s) returning id::text",
        (
            org,
            user,
            scenario,
            started,
            started,
            status,
            None if score is not None else "transcription failed",
            score,
            Jsonb({"score": score, "passed": passed}) if score is not None else None,
            Jsonb(KPIS) if score is not None else None,
            started if score is not None else None,
            extra.get("recording_path"),
        ),
    )["id"]


@pytest.fixture
def team(stack_arrange: Arrange) -> dict[str, Any]:
    """An org with a manager, a trainee, a member whose name is a spreadsheet formula, and
    attempts in and around March 2026."""
    a = stack_arrange
    org = a.org(entitlements={"retention_days": 30})
    manager = a.member(org, role="manager", name="Maya Manager")
    tara = a.member(org, name="Tara Trainee")
    sneaky = a.member(org, name='=HYPERLINK("http://evil.example","x")')
    scenario = a.scenario(org, title="Cold call")
    ids = {
        "tara_good": attempt(a, org, tara, scenario, "2026-03-02T09:00:00Z", 80, True),
        "tara_weak": attempt(a, org, tara, scenario, "2026-03-31T23:30:00Z", 60, False),
        "tara_april": attempt(a, org, tara, scenario, "2026-04-01T00:00:00Z", 99, True),
        "tara_feb": attempt(a, org, tara, scenario, "2026-02-28T23:59:59Z", 10, False),
        "sneaky_best": attempt(a, org, sneaky, scenario, "2026-03-10T12:00:00Z", 90, True),
        "sneaky_failed": attempt(a, org, sneaky, scenario, "2026-03-11T12:00:00Z", None),
    }
    return {"org": org, "manager": manager, "tara": tara, "sneaky": sneaky, "attempts": ids}


def request_export(client: Client, org: str, kind: str) -> dict[str, Any]:
    return (
        client.table("export_requests")
        .insert({"org_id": org, "kind": kind, "from_date": MARCH[0], "to_date": MARCH[1]})
        .execute()
        .data[0]
    )


def finished(client: Client, request: dict[str, Any]) -> dict[str, Any]:
    return client.table("export_requests").select("*").eq("id", request["id"]).execute().data[0]


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_attempts_csv_from_request_to_download(stack, stack_arrange, team, job):
    manager = sign_in(stack, stack_arrange, team["manager"])
    request = request_export(manager, team["org"], "attempts")
    assert request["status"] == "pending"
    assert request["requested_by"] == team["manager"]

    assert job.run() >= 1

    done = finished(manager, request)
    assert done["status"] == "done", done["error"]
    assert done["row_count"] == 4
    assert done["object_name"] == (
        f"{team['org']}/attempts/{MARCH[0]}_{MARCH[1]}_{request['id']}.csv"
    )
    data = manager.storage.from_("exports").download(done["object_name"])
    rows = read_csv(data)
    ids = team["attempts"]
    assert [r["attempt_id"] for r in rows] == [
        ids["tara_good"],
        ids["sneaky_best"],
        ids["sneaky_failed"],
        ids["tara_weak"],
    ]
    header = list(rows[0].keys())
    assert header[:12] == [
        "attempt_id",
        "started_at",
        "ended_at",
        "user_id",
        "display_name",
        "scenario_id",
        "scenario_title",
        "assignment_id",
        "status",
        "score",
        "passed",
        "duration_seconds",
    ]
    assert {"talk_ratio", "questions_asked", "keyword_coverage"} <= set(header[12:])
    first = rows[0]
    assert first["started_at"] == "2026-03-02T09:00:00+00:00"
    assert (first["display_name"], first["scenario_title"]) == ("Tara Trainee", "Cold call")
    assert (first["status"], first["score"], first["passed"]) == ("scored", "80.00", "true")
    assert (first["talk_ratio"], first["questions_asked"], first["keyword_coverage"]) == (
        "0.45",
        "3",
        "",
    )
    # A formula in a name is text in the spreadsheet, not something it runs.
    assert rows[1]["display_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (rows[2]["status"], rows[2]["score"], rows[2]["passed"]) == ("failed", "", "")
    assert rows[3]["passed"] == "false"

    # The same file through a signed URL made by the database for the manager.
    signed = manager.rpc("grant_signed_url", {"path": f"exports/{done['object_name']}"}).execute()
    # Absolute: the stack gives the database its Storage URL (private.settings storage_url).
    assert signed.data.startswith(f"{stack.url}/storage/v1/object/sign/exports/")
    opened = httpx.get(signed.data)
    assert opened.status_code == 200
    assert opened.content == data


def test_leaderboard_csv_ranks_by_average_score(stack, stack_arrange, team, job):
    manager = sign_in(stack, stack_arrange, team["manager"])
    request = request_export(manager, team["org"], "leaderboard")
    job.run()
    done = finished(manager, request)
    rows = read_csv(manager.storage.from_("exports").download(done["object_name"]))
    assert [
        (r["rank"], r["user_id"], r["attempts"], r["scored_attempts"], r["avg_score"]) for r in rows
    ] == [
        ("1", team["sneaky"], "2", "1", "90.00"),
        ("2", team["tara"], "2", "2", "70.00"),
    ]
    assert [(r["best_score"], r["passed_attempts"]) for r in rows] == [
        ("90.00", "1"),
        ("80.00", "1"),
    ]


def test_trainees_can_neither_request_nor_read_exports(stack, stack_arrange, team, job):
    manager = sign_in(stack, stack_arrange, team["manager"])
    request = request_export(manager, team["org"], "attempts")
    job.run()
    name = finished(manager, request)["object_name"]

    trainee = sign_in(stack, stack_arrange, team["tara"])
    with pytest.raises(APIError) as refused:
        request_export(trainee, team["org"], "attempts")
    assert refused.value.code == "42501"
    assert trainee.table("export_requests").select("id").execute().data == []
    with pytest.raises(StorageApiError) as hidden:
        trainee.storage.from_("exports").download(name)
    assert str(hidden.value.status) == "404"


def test_a_range_longer_than_a_year_is_refused(stack, stack_arrange, team):
    manager = sign_in(stack, stack_arrange, team["manager"])
    with pytest.raises(APIError) as refused:
        manager.table("export_requests").insert(
            {
                "org_id": team["org"],
                "kind": "attempts",
                "from_date": "2024-01-01",
                "to_date": "2026-01-01",
            }
        ).execute()
    assert refused.value.code == "23514"


def test_a_failed_upload_is_reported_on_the_request(stack, stack_arrange, team):
    manager = sign_in(stack, stack_arrange, team["manager"])
    request = request_export(manager, team["org"], "attempts")
    broken = ExportJob(stack.dsn, StorageTarget(stack.url, "not-a-service-key"))
    broken.run()
    done = finished(manager, request)
    assert done["status"] == "failed"
    assert done["object_name"] is None
    assert done["error"].startswith("the export failed:")


def test_monthly_zip_report_once_per_org_and_month(stack, stack_arrange, team, job):
    written = job.monthly_reports(date(2026, 4, 15), only=[uuid.UUID(team["org"])])
    assert written == 1
    name = f"{team['org']}/reports/2026-03.zip"
    manager = sign_in(stack, stack_arrange, team["manager"])
    archive = zipfile.ZipFile(io.BytesIO(manager.storage.from_("exports").download(name)))
    assert sorted(archive.namelist()) == ["attempts.csv", "leaderboard.csv", "summary.json"]
    assert len(read_csv(archive.read("attempts.csv"))) == 4
    assert len(read_csv(archive.read("leaderboard.csv"))) == 2
    summary = json.loads(archive.read("summary.json"))
    assert (summary["from"], summary["to"], summary["attempts"]) == ("2026-03-01", "2026-03-31", 4)
    # Already there: the next run writes nothing.
    assert job.monthly_reports(date(2026, 4, 20), only=[uuid.UUID(team["org"])]) == 0


def test_expiry_removes_old_tmp_and_recordings_past_retention(stack, stack_arrange, team, job):
    a = stack_arrange
    org, tara = team["org"], team["tara"]
    service = create_client(
        stack.url, stack.service_key, ClientOptions(auto_refresh_token=False, persist_session=False)
    )
    names = {
        "tmp_old": ("tmp", f"{org}/{tara}/draft-old.txt", "text/plain", timedelta(days=2)),
        "tmp_new": ("tmp", f"{org}/{tara}/draft-new.txt", "text/plain", timedelta(hours=1)),
        "rec_old": ("recordings", f"{org}/{tara}/old.flac", "audio/flac", timedelta(days=31)),
        "rec_new": ("recordings", f"{org}/{tara}/new.flac", "audio/flac", timedelta(days=29)),
    }
    for bucket, name, mime, age in names.values():
        service.storage.from_(bucket).upload(name, b"bytes", {"content-type": mime})
        a.conn.execute(
            "update storage.objects set created_at = now() - %s where bucket_id = %s and name = %s",
            (age, bucket, name),
        )
    scenario = a.one("select id::text from scenarios where org_id = %s", (org,))["id"]
    old_attempt = attempt(
        a,
        org,
        tara,
        scenario,
        "2026-03-03T10:00:00Z",
        75,
        True,
        recording_path=names["rec_old"][1],
    )

    removed = job.expire()

    assert removed["expired_tmp"] >= 1
    assert removed["expired_recordings"] >= 1
    left = {
        (r["bucket_id"], r["name"])
        for r in a.conn.execute(
            "select bucket_id, name from storage.objects where name like %s", (f"{org}/%",)
        ).fetchall()
    }
    assert left == {names["tmp_new"][:2], names["rec_new"][:2]}
    # The bytes went with the rows (through the Storage API, not a SQL delete).
    files = list((stack.config.storage_dir / "objects").iterdir())
    versions = {
        r["version"]
        for r in a.conn.execute(
            "select version from storage.objects where name like %s", (f"{org}/%",)
        ).fetchall()
    }
    assert {uuid.UUID(v).hex for v in versions} <= {f.name for f in files}
    with pytest.raises(StorageApiError) as gone:
        service.storage.from_("recordings").download(names["rec_old"][1])
    assert str(gone.value.status) == "404"
    kept = a.one(
        "select recording_path, score from scenario_attempts where id = %s", (old_attempt,)
    )
    assert kept == {"recording_path": None, "score": 75}


def test_previous_month_bounds():
    assert previous_month(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert previous_month(date(2026, 1, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_the_worker_beside_the_stack_runs_the_export_queue(stack, stack_arrange, team):
    """The wiring `coachdesk stack` uses: start_worker with the stack's Storage and service key."""
    worker = start_worker(
        stack.dsn,
        allow_private_targets=True,
        storage=StorageTarget(stack.url, stack.service_key),
        exports_every_s=0.1,
        poll_interval_s=0.1,
    )
    try:
        manager = sign_in(stack, stack_arrange, team["manager"])
        request = request_export(manager, team["org"], "leaderboard")
        deadline = time.monotonic() + 60
        while finished(manager, request)["status"] in ("pending", "running"):
            assert time.monotonic() < deadline, "the worker did not export within 60 s"
            time.sleep(0.1)
    finally:
        worker.stop()
    assert finished(manager, request)["status"] == "done"
    assert not worker.alive
