"""Exports for HR's Reports tab: a CSV of attempts, the leaderboard, assignments (admins and HR)
or the audit log over a date range, saved where the user chooses, the org's recent export
requests with their status (the server's weekly zips among them, each saved with **Save
selected…**), and one-page PDF summaries of every team.

Rendering and dispatch only: requests, status, files and figures come from the client core
(app/client/exports.py, app/client/audit.py, app/client/team_summary.py). A request is followed
by a timer, one status read at a time, so the network thread is never held while the server's
worker writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.audit import AuditExport, AuditQuery, AuditService, can_read_audit_log
from app.client.exports import (
    FIRST_POLL_S,
    KIND_NAMES,
    MAX_POLL_S,
    WAIT_TIMEOUT_S,
    ExportFile,
    ExportKind,
    ExportParams,
    ExportRequest,
    ExportsService,
    ExportStatus,
    requestable_kinds,
)
from app.client.team_summary import TeamSummary, TeamSummaryService
from app.errors import CoachdeskError
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.models import Column, RowTableModel
from ui.team_summary_pdf import write_team_summaries
from ui.widgets.headings import muted, subheading
from ui.widgets.table import make_table

AUDIT_LOG = "audit_log"  # the combo's choice for the audit log, exported at once
DEFAULT_DAYS = 30


class ExportsModel(RowTableModel[ExportRequest]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Asked", lambda r: r.when, sort=lambda r: r.created_at),
                Column("What", lambda r: r.kind_name),
                Column("Days", lambda r: f"{r.first} – {r.last}"),
                Column("Status", lambda r: r.status_name, tooltip=lambda r: r.error or None),
            ]
        )

    def row_key(self, row: ExportRequest) -> str:
        return row.id


@dataclass
class _Following:
    """The request being followed to its file."""

    request_id: str
    path: Path
    pause_s: float
    waited_s: float = 0.0


def _date_edit(name: str, day: QDate) -> QDateEdit:
    edit = QDateEdit(day)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setAccessibleName(name)
    return edit


def _day(edit: QDateEdit) -> date:
    picked = edit.date()
    return date(picked.year(), picked.month(), picked.day())


class ExportsPanel(QWidget):
    """Export CSV… and the recent requests; refreshes its list when shown."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = ExportsService(ctx.backend)
        self.summaries = TeamSummaryService(ctx.backend)
        self.audit = AuditService(ctx.backend)
        self.setObjectName("exportsPanel")
        self.rows: list[ExportRequest] = []
        self.following: _Following | None = None
        self.last_file: ExportFile | AuditExport | None = None

        self.title = subheading("Exports")
        self.kind = QComboBox()
        self.kind.setAccessibleName("What to export")
        self._offer_kinds()
        today = QDate.currentDate()
        self.since = _date_edit("From date", today.addDays(-DEFAULT_DAYS))
        self.until = _date_edit("Until date (included)", today)
        self.export_button = QPushButton("Export &CSV…")
        self.export_button.setToolTip("Asks the server for the file, then saves it where you say")
        self.save_button = QPushButton("&Save selected…")
        self.save_button.setToolTip("Saves the chosen finished export (a CSV or a weekly zip)")
        self.save_button.setEnabled(False)
        self.summary_button = QPushButton("&Team summaries (PDF)…")
        self.summary_button.setToolTip("One page per team: completion, scores, who is overdue")
        self.last_summaries: list[Path] = []
        self.state = muted()
        self.model = ExportsModel()
        self.table = make_table(self.model, "exportsTable", "Recent exports", stretch=3)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._poll)

        kind_label = QLabel("E&xport")
        kind_label.setBuddy(self.kind)
        since_label = QLabel("From")
        since_label.setBuddy(self.since)
        until_label = QLabel("until")
        until_label.setBuddy(self.until)
        row = QHBoxLayout()
        for widget in (kind_label, self.kind, since_label, self.since, until_label, self.until):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.export_button)
        row.addWidget(self.summary_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        below = QHBoxLayout()
        below.addStretch(1)
        below.addWidget(self.save_button)
        layout.addLayout(below)

        self.export_button.clicked.connect(self.export)
        self.save_button.clicked.connect(self.save_selected)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.summary_button.clicked.connect(self.team_summaries)

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        self._offer_kinds()
        self.refresh()

    def _offer_kinds(self) -> None:
        """What this role may export (assignments and the audit log: admins and HR only); the
        account may change while the panel lives, so the choices are made again when shown."""
        account = self.ctx.backend.account
        offered = [(KIND_NAMES[kind], str(kind)) for kind in requestable_kinds(account)]
        if can_read_audit_log(account):
            offered.append(("Audit log", AUDIT_LOG))
        current = [(self.kind.itemText(i), self.kind.itemData(i)) for i in range(self.kind.count())]
        if current == offered:
            return
        chosen = self.kind.currentData()
        self.kind.clear()
        for name, data in offered:
            self.kind.addItem(name, data)
        self.kind.setCurrentIndex(max(self.kind.findData(chosen), 0))

    # The list ------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.ctx.call(
            self,
            self.service.recent,
            self._show_recent,
            on_failure=lambda error: self.state.setText(plain_message(error)),
        )

    def _show_recent(self, rows: list[ExportRequest]) -> None:
        self.rows = rows
        self.model.set_rows(rows)
        self._selected()

    def selected(self) -> ExportRequest | None:
        index = self.table.currentIndex()
        return self.rows[index.row()] if index.isValid() and index.row() < len(self.rows) else None

    def _selected(self) -> None:
        chosen = self.selected()
        self.save_button.setEnabled(
            chosen is not None and chosen.status is ExportStatus.DONE and self.following is None
        )

    def save_selected(self) -> None:
        """Ask where, then save the chosen finished export there (through a signed URL)."""
        chosen = self.selected()
        if chosen is None or chosen.status is not ExportStatus.DONE:
            return
        kind = "Zip files (*.zip)" if chosen.extension == "zip" else "CSV files (*.csv)"
        picked, _filter = QFileDialog.getSaveFileName(
            self, "Save the export", str(Path.home() / chosen.file_name), kind
        )
        if not picked:
            return
        suffix = f".{chosen.extension}"
        path = Path(picked if picked.lower().endswith(suffix) else f"{picked}{suffix}")
        self.save_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.service.download(chosen.id, path),
            self._saved,
            label="Saving the export…",
            on_failure=self._failed,
        )

    # Export --------------------------------------------------------------------------------
    def export(self) -> None:
        """Ask where, then ask the server for the file and save it there when it is ready."""
        choice = self.kind.currentData()
        try:
            params = ExportParams(_day(self.since), _day(self.until))
        except CoachdeskError as error:
            show_error(self, error)
            return
        stem = "audit-log" if choice == AUDIT_LOG else choice
        suggested = Path.home() / f"coachdesk-{stem}-{params.first}_{params.last}.csv"
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the export", str(suggested), "CSV files (*.csv)"
        )
        if not chosen:
            return
        path = Path(chosen if chosen.lower().endswith(".csv") else f"{chosen}.csv")
        self.export_button.setEnabled(False)
        if choice == AUDIT_LOG:
            self._export_audit_log(params, path)
            return
        self.ctx.call(
            self,
            lambda: self.service.request(ExportKind(choice), params),
            lambda request_id: self._follow(request_id, path),
            label="Asking the server for the export…",
            on_failure=self._failed,
        )

    def _export_audit_log(self, params: ExportParams, path: Path) -> None:
        # The audit log has an export of its own on the server, written at once.
        # Days on this computer's clock, as the Audit log tab reads them; the last one included.
        query = AuditQuery(
            since=datetime.combine(params.first, time()).astimezone(),
            until=datetime.combine(params.last + timedelta(days=1), time()).astimezone(),
        )
        self.ctx.call(
            self,
            lambda: self.audit.export_csv(query, path),
            self._saved,
            label="Exporting the audit log…",
            on_failure=self._failed,
        )

    def _follow(self, request_id: str, path: Path) -> None:
        self.following = _Following(request_id, path, FIRST_POLL_S)
        self.state.setText("Waiting for the server to write the export…")
        self.refresh()
        self.timer.start(int(FIRST_POLL_S * 1000))

    def _poll(self) -> None:
        following = self.following
        if following is None:
            return
        self.ctx.call(
            self,
            lambda: self.service.status(following.request_id),
            self._polled,
            on_failure=self._failed,
        )

    def _polled(self, request: ExportRequest) -> None:
        following = self.following
        if following is None or following.request_id != request.id:
            return
        self.state.setText(f"Export: {request.status_name}")
        if request.status is ExportStatus.FAILED:
            self._failed(CoachdeskError(f"The export failed on the server: {request.error}."))
            return
        if request.status is ExportStatus.DONE:
            self.ctx.call(
                self,
                lambda: self.service.download(request.id, following.path),
                self._saved,
                label="Saving the export…",
                on_failure=self._failed,
            )
            return
        following.waited_s += following.pause_s
        if following.waited_s > WAIT_TIMEOUT_S:
            self._failed(
                CoachdeskError(
                    f"The export is still {request.status.value} after {WAIT_TIMEOUT_S:.0f} s: "
                    "the server's export worker may not be running. It is kept; look again later."
                )
            )
            return
        following.pause_s = min(following.pause_s * 2, MAX_POLL_S)
        self.timer.start(int(following.pause_s * 1000))

    def _saved(self, saved: ExportFile | AuditExport) -> None:
        self.following = None
        self.last_file = saved
        self.export_button.setEnabled(True)
        rows = "" if saved.rows is None else f"{saved.rows} row(s) "
        self.state.setText(f"Saved {rows}to {saved.path}")
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        self.following = None
        self.timer.stop()
        self.export_button.setEnabled(True)
        self.state.setText(plain_message(error))
        self.refresh()
        show_error(self, error, title="Not exported")

    # Team summaries ------------------------------------------------------------------------
    def team_summaries(self) -> None:
        """Ask for a folder, then write one page per team there (from the cache)."""
        chosen = QFileDialog.getExistingDirectory(
            self, "Save the team summaries in", str(Path.home())
        )
        if not chosen:
            return
        folder = Path(chosen)
        self.summary_button.setEnabled(False)
        self.ctx.call(
            self,
            self.summaries.summaries,
            lambda summaries: self._write_summaries(summaries, folder),
            label="Counting each team's progress…",
            on_failure=self._summaries_failed,
        )

    def _write_summaries(self, summaries: list[TeamSummary], folder: Path) -> None:
        # On the GUI thread: Qt's painter and fonts; a page takes milliseconds.
        self.summary_button.setEnabled(True)
        try:
            self.last_summaries = write_team_summaries(summaries, folder)
        except CoachdeskError as error:
            self._summaries_failed(error)
            return
        if not summaries:
            self.state.setText("The org has no teams: no summary was written.")
        else:
            self.state.setText(f"Saved {len(summaries)} team summary page(s) in {folder}")

    def _summaries_failed(self, error: BaseException) -> None:
        self.summary_button.setEnabled(True)
        self.state.setText(plain_message(error))
        show_error(self, error, title="Team summaries not saved")
