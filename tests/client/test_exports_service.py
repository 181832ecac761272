"""The exports service against the real stack, with the worker `coachdesk run` starts beside it:
HR asks for a CSV, follows it to done and saves it through a signed URL; the assignments CSV is
HR's and admins', not managers'; the server's weekly zip is listed and saved like any export;
ranges the database refuses are refused in words; a trainee is refused; another org sees none
of it."""

from __future__ import annotations

import csv
import uuid
import zipfile
from datetime import date, timedelta

import pytest

from app.client.exports import (
    MAX_RANGE_DAYS,
    ExportKind,
    ExportParams,
    ExportsService,
    ExportStatus,
    requestable_kinds,
)
from app.client.views import PermissionDenied
from app.errors import CoachdeskError
from server.exports.job import ExportJob, StorageTarget
from server.exports.reports import ASSIGNMENT_COLUMNS, ATTEMPT_COLUMNS, LEADERBOARD_COLUMNS

PASSWORD = "coachdesk-demo"
LAST_YEAR = ExportParams(date.today() - timedelta(days=MAX_RANGE_DAYS), date.today())


def _csv(path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def test_hr_requests_follows_and_downloads_an_attempts_csv(
    backend, accounts, export_worker, tmp_path
):
    backend.sign_in(accounts["hr"], PASSWORD)
    service = ExportsService(backend)
    request_id = service.request(ExportKind.ATTEMPTS, LAST_YEAR)
    first = service.status(request_id)
    assert first.kind is ExportKind.ATTEMPTS and (first.first, first.last) == (
        LAST_YEAR.first,
        LAST_YEAR.last,
    )
    assert first.status in (ExportStatus.PENDING, ExportStatus.RUNNING, ExportStatus.DONE)

    seen: list[str] = []
    done = service.wait(request_id, lambda _fraction, text: seen.append(text))
    assert done.status is ExportStatus.DONE and done.rows is not None and done.rows > 0
    assert seen and seen[-1].startswith("Export: Ready")
    assert request_id in [r.id for r in service.recent()]

    saved = service.download(request_id, tmp_path / done.file_name)
    header, rows = _csv(saved.path)
    assert header[: len(ATTEMPT_COLUMNS)] == list(ATTEMPT_COLUMNS)
    assert saved.rows == len(rows) == done.rows
    assert list(tmp_path.glob(".*")) == []  # no temporary file left beside it

    # A folder that is not there: an error in words, and nothing written.
    with pytest.raises(CoachdeskError, match="Could not save the export"):
        service.download(request_id, tmp_path / "missing" / "a.csv")
    assert not (tmp_path / "missing").exists()


def test_export_in_one_call_for_the_leaderboard(backend, accounts, export_worker, tmp_path):
    backend.sign_in(accounts["manager"], PASSWORD)
    saved = ExportsService(backend).export(
        ExportKind.LEADERBOARD, LAST_YEAR, tmp_path / "board.csv"
    )
    header, rows = _csv(saved.path)
    assert header == list(LEADERBOARD_COLUMNS) and len(rows) == saved.rows


def test_hr_exports_assignments_and_a_manager_may_not(backend, accounts, export_worker, tmp_path):
    backend.sign_in(accounts["hr"], PASSWORD)
    saved = ExportsService(backend).export(
        ExportKind.ASSIGNMENTS, LAST_YEAR, tmp_path / "assignments.csv"
    )
    header, rows = _csv(saved.path)
    assert header == list(ASSIGNMENT_COLUMNS) and len(rows) == saved.rows and rows
    assert {r["status"] for r in rows} <= {
        "not started",
        "in progress",
        "passed",
        "failed",
        "overdue",
    }
    [hrs] = [r.id for r in ExportsService(backend).recent(limit=1)]
    backend.sign_out(discard_unsynced=True)

    backend.sign_in(accounts["manager"], PASSWORD)
    assert requestable_kinds(backend.account) == [ExportKind.ATTEMPTS, ExportKind.LEADERBOARD]
    service = ExportsService(backend)
    with pytest.raises(PermissionDenied, match="Only admins and HR"):
        service.request(ExportKind.ASSIGNMENTS, LAST_YEAR)
    with pytest.raises(PermissionDenied, match="every Monday"):
        service.request(ExportKind.WEEKLY, LAST_YEAR)
    # HR's file is neither listed for the manager nor readable through Storage.
    assert hrs not in {r.id for r in service.recent()}
    with pytest.raises(CoachdeskError):
        service.download(hrs, tmp_path / "not-mine.csv")
    assert not (tmp_path / "not-mine.csv").exists()


def test_the_weekly_zip_is_listed_and_saved_like_any_export(
    backend, accounts, export_worker, stack, tmp_path
):
    backend.sign_in(accounts["hr"], PASSWORD)
    org = uuid.UUID(backend.account.org_id)
    # The schedule's request for the week of 2025-06-09, which the worker then writes.
    ExportJob(stack.dsn, StorageTarget(stack.url, stack.service_key)).request_weekly_reports(
        date(2025, 6, 18), only=[org]
    )
    service = ExportsService(backend)
    [weekly] = [
        r for r in service.recent() if r.kind is ExportKind.WEEKLY and r.first == date(2025, 6, 9)
    ]
    assert weekly.kind_name == "Weekly report (zip)" and weekly.last == date(2025, 6, 15)
    done = service.wait(weekly.id)
    assert done.file_name == "coachdesk-weekly-2025-06-09_2025-06-15.zip"
    saved = service.download(weekly.id, tmp_path / done.file_name)
    with zipfile.ZipFile(saved.path) as archive:
        assert archive.namelist() == [
            "attempts.csv",
            "assignments.csv",
            "leaderboard.csv",
            "summary.json",
        ]


def test_ranges_are_checked_before_asking():
    with pytest.raises(CoachdeskError, match="start date is after"):
        ExportParams(date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(CoachdeskError, match="at most 366 days"):
        ExportParams(date(2025, 1, 1), date(2026, 3, 1))


def test_a_trainee_is_refused_and_another_org_sees_nothing(backend, accounts):
    backend.sign_in(accounts["hr"], PASSWORD)
    request_id = ExportsService(backend).request("leaderboard", LAST_YEAR)
    backend.sign_out(discard_unsynced=True)

    backend.sign_in(accounts["trainee"], PASSWORD)
    service = ExportsService(backend)
    with pytest.raises(PermissionDenied):
        service.request(ExportKind.ATTEMPTS, LAST_YEAR)
    with pytest.raises(PermissionDenied):
        service.recent()
    # The database refuses it too, asked past the service's check.
    with pytest.raises(PermissionDenied):
        backend.live(
            lambda s: (
                s.client.table("export_requests")
                .insert(
                    {
                        "org_id": backend.account.org_id,
                        "kind": "attempts",
                        "from_date": "2026-03-01",
                        "to_date": "2026-03-31",
                    }
                )
                .execute()
            )
        )
    backend.sign_out(discard_unsynced=True)

    backend.sign_in(accounts["globex_manager"], PASSWORD)
    globex = ExportsService(backend)
    assert request_id not in [r.id for r in globex.recent()]
    with pytest.raises(CoachdeskError, match="not there any more"):
        globex.status(request_id)
