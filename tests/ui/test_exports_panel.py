"""The exports panel against the real stack and the worker beside it: HR saves an attempts CSV
where the file dialog says, the request is listed with its status, the audit log is offered to
HR and saved at once; HR exports assignments and saves a listed weekly zip with Save selected; a
manager is offered neither the audit log nor assignments."""

from __future__ import annotations

import csv
import uuid
import zipfile
from datetime import date

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.client.exports import ExportKind, ExportStatus
from server.exports.job import ExportJob, StorageTarget
from server.exports.reports import ASSIGNMENT_COLUMNS, ATTEMPT_COLUMNS
from ui.exports_panel import AUDIT_LOG, ExportsPanel

PASSWORD = "coachdesk-demo"


def _panel(qtbot, ctx, accounts, who: str) -> ExportsPanel:
    ctx.backend.sign_in(accounts[who], PASSWORD)
    panel = ExportsPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def _save_as(monkeypatch, path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(path), "CSV files (*.csv)")
    )


def test_hr_exports_attempts_and_the_audit_log(
    qtbot, ctx, accounts, export_worker, monkeypatch, tmp_path
):
    panel = _panel(qtbot, ctx, accounts, "hr")
    panel.since.setDate(QDate.currentDate().addDays(-365))
    _save_as(monkeypatch, tmp_path / "attempts")  # ".csv" is added
    panel.kind.setCurrentIndex(panel.kind.findData("attempts"))
    panel.export_button.click()
    assert not panel.export_button.isEnabled()
    qtbot.waitUntil(lambda: panel.last_file is not None, timeout=30_000)
    saved = panel.last_file
    assert saved.path == tmp_path / "attempts.csv"
    with saved.path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert list(reader.fieldnames or [])[: len(ATTEMPT_COLUMNS)] == list(ATTEMPT_COLUMNS)
        assert len(list(reader)) == saved.rows
    assert panel.export_button.isEnabled() and "Saved" in panel.state.text()
    qtbot.waitUntil(
        lambda: bool(panel.rows) and panel.rows[0].status is ExportStatus.DONE, timeout=30_000
    )
    assert panel.model.index(0, 1).data() == "Attempts"
    assert panel.model.index(0, 3).data().startswith("Ready")

    # The audit log: HR reads it, and it is written at once (no request).
    requests = len(panel.rows)
    _save_as(monkeypatch, tmp_path / "audit.csv")
    panel.kind.setCurrentIndex(panel.kind.findData(AUDIT_LOG))
    panel.last_file = None
    panel.export_button.click()
    qtbot.waitUntil(lambda: panel.last_file is not None, timeout=30_000)
    assert (tmp_path / "audit.csv").read_text(encoding="utf-8").startswith("occurred_at,")
    assert len(panel.rows) == requests


def test_a_backwards_range_is_refused_and_a_manager_has_no_audit_log(
    qtbot, ctx, accounts, monkeypatch, tmp_path
):
    panel = _panel(qtbot, ctx, accounts, "manager")
    assert panel.kind.findData(AUDIT_LOG) < 0
    assert [panel.kind.itemText(i) for i in range(panel.kind.count())] == [
        "Attempts",
        "Leaderboard",
    ]
    panel.since.setDate(panel.until.date().addDays(1))
    _save_as(monkeypatch, tmp_path / "never.csv")
    panel.export_button.click()
    qtbot.waitUntil(lambda: panel.findChild(QMessageBox) is not None, timeout=10_000)
    assert "start date is after" in panel.findChild(QMessageBox).text()
    assert not (tmp_path / "never.csv").exists()


def test_hr_exports_assignments_and_saves_the_weekly_zip_from_the_list(
    qtbot, ctx, accounts, export_worker, stack, monkeypatch, tmp_path
):
    panel = _panel(qtbot, ctx, accounts, "hr")
    assert [panel.kind.itemText(i) for i in range(panel.kind.count())] == [
        "Attempts",
        "Leaderboard",
        "Assignments",
        "Audit log",
    ]
    panel.since.setDate(QDate.currentDate().addDays(-365))
    _save_as(monkeypatch, tmp_path / "assignments.csv")
    panel.kind.setCurrentIndex(panel.kind.findData("assignments"))
    panel.export_button.click()
    qtbot.waitUntil(lambda: panel.last_file is not None, timeout=30_000)
    header = (tmp_path / "assignments.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(ASSIGNMENT_COLUMNS)

    # The server's weekly report for the week of 2025-06-23, listed once the worker wrote it.
    org = uuid.UUID(ctx.backend.account.org_id)
    job = ExportJob(stack.dsn, StorageTarget(stack.url, stack.service_key))
    job.request_weekly_reports(date(2025, 7, 2), only=[org])

    def weekly_row() -> int | None:
        for number, row in enumerate(panel.rows):
            if row.kind is ExportKind.WEEKLY and row.first == date(2025, 6, 23):
                return number if row.status is ExportStatus.DONE else None
        return None

    def listed() -> bool:
        if weekly_row() is None:
            panel.refresh()
            qtbot.wait(200)
        return weekly_row() is not None

    qtbot.waitUntil(listed, timeout=30_000)
    assert not panel.save_button.isEnabled()  # nothing chosen yet
    panel.table.selectRow(weekly_row())
    assert panel.save_button.isEnabled()
    assert panel.model.index(weekly_row(), 1).data() == "Weekly report (zip)"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(tmp_path / "week"), "")
    )
    panel.last_file = None
    panel.save_button.click()
    qtbot.waitUntil(lambda: panel.last_file is not None, timeout=30_000)
    assert panel.last_file.path == tmp_path / "week.zip"
    with zipfile.ZipFile(panel.last_file.path) as archive:
        assert "assignments.csv" in archive.namelist()


def test_team_summaries_are_saved_one_page_each(qtbot, ctx, accounts, monkeypatch, tmp_path):
    panel = _panel(qtbot, ctx, accounts, "hr")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(tmp_path))
    panel.summary_button.click()
    qtbot.waitUntil(lambda: bool(panel.last_summaries), timeout=30_000)
    assert sorted(p.name for p in tmp_path.glob("*.pdf")) == [
        "coachdesk-team-enterprise-east.pdf",
        "coachdesk-team-smb-west.pdf",
    ]
    assert "Saved 2 team summary page(s)" in panel.state.text()
    assert panel.summary_button.isEnabled()
