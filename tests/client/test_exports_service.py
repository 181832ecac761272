"""The exports service against the real stack, with the worker `coachdesk run` starts beside it:
HR asks for a CSV, follows it to done and saves it through a signed URL; ranges the database
refuses are refused in words; a trainee is refused; another org sees none of it."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

from app.client.exports import (
    MAX_RANGE_DAYS,
    ExportKind,
    ExportParams,
    ExportsService,
    ExportStatus,
)
from app.client.views import PermissionDenied
from app.errors import CoachdeskError
from server.exports.reports import ATTEMPT_COLUMNS, LEADERBOARD_COLUMNS

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
