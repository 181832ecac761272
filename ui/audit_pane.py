"""The Audit log tab for admins and HR: the org's admin actions, filtered, paged, saved as CSV.

Rendering and dispatch only: the events, their words and the file come from the client core
(app/client/audit.py), which reads the server live; every call runs on the network thread.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import structlog
from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.audit import (
    ACTION_FILTERS,
    PAGE_ROWS,
    AuditEvent,
    AuditExport,
    AuditPage,
    AuditQuery,
    AuditService,
)
from app.client.views import Changes
from app.errors import CoachdeskError
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.models import Column, RowTableModel
from ui.widgets.headings import heading, muted
from ui.widgets.table import make_table

log = structlog.get_logger(__name__)

# Synced tables whose changes come with new events (a member, a team, content changed): read
# the first page again when one of them changed while it is the only page shown.
AUDITED_DATA = ("org_members", "teams", "team_members", "scenarios", "tracks")
DEFAULT_DAYS = 30


class AuditModel(RowTableModel[AuditEvent]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("When", lambda e: e.when, sort=lambda e: e.occurred_at),
                Column("Who", lambda e: e.actor_name),
                Column("Role", lambda e: e.role),
                Column("What", lambda e: e.what),
                Column("Details", lambda e: e.detail, tooltip=lambda e: e.detail or None),
            ]
        )

    def row_key(self, row: AuditEvent) -> int:
        return row.id


def _day_start(day: QDate) -> datetime:
    """Midnight of `day` on this computer's clock, as an aware time."""
    return datetime(day.year(), day.month(), day.day()).astimezone()


def _date_edit(name: str, day: QDate) -> QDateEdit:
    edit = QDateEdit(day)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setAccessibleName(name)
    edit.setEnabled(False)
    return edit


class AuditPane(QWidget):
    """The org's audit events, newest first, a page at a time."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = AuditService(ctx.backend)
        self.setObjectName("auditPane")
        self.rows: list[AuditEvent] = []
        self.page: AuditPage | None = None
        self.shown_query: AuditQuery | None = None  # what the rows shown were read for
        self.pages_shown = 0
        self.last_export: AuditExport | None = None
        self.page_rows = PAGE_ROWS
        self._actors_loaded = False
        # Each read is numbered: an answer to an older filter than the one shown is dropped.
        self._reading = 0

        self.title = heading("Audit log")
        self.action = QComboBox()
        self.action.setAccessibleName("Action")
        for label, actions in ACTION_FILTERS:
            self.action.addItem(label, actions)
        # Between "All actions" and the groups, and each action on its own.
        self.action.insertSeparator(sum(1 for _label, a in ACTION_FILTERS if len(a) != 1))
        self.actor = QComboBox()
        self.actor.setAccessibleName("Done by")
        self.actor.addItem("Anyone", None)
        today = QDate.currentDate()
        self.since_on = QCheckBox("&From")
        self.since = _date_edit("From date", today.addDays(-DEFAULT_DAYS))
        self.until_on = QCheckBox("U&ntil")
        self.until = _date_edit("Until date (included)", today)
        self.refresh_button = QPushButton("&Refresh")
        self.count = muted()
        self.more_button = QPushButton("Load &more")
        self.more_button.setToolTip("The next, older events")
        self.more_button.setEnabled(False)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setToolTip(
            "Every event the filters select, not only those shown, as a CSV file"
        )
        self.model = AuditModel()
        self.table = make_table(self.model, "auditTable", "Audit events", stretch=4)

        filters = QHBoxLayout()
        action_label = QLabel("Acti&on")
        action_label.setBuddy(self.action)
        actor_label = QLabel("&By")
        actor_label.setBuddy(self.actor)
        for widget in (action_label, self.action, actor_label, self.actor):
            filters.addWidget(widget)
        for widget in (self.since_on, self.since, self.until_on, self.until):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)
        actions = QHBoxLayout()
        actions.addWidget(self.count, 1)
        actions.addWidget(self.more_button)
        actions.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)

        self.refresh_button.clicked.connect(self.refresh)
        self.more_button.clicked.connect(self.load_more)
        self.export_button.clicked.connect(self.export)
        self.action.currentIndexChanged.connect(lambda _i: self.refresh())
        self.actor.currentIndexChanged.connect(lambda _i: self.refresh())
        for check, edit in ((self.since_on, self.since), (self.until_on, self.until)):
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(lambda _on: self.refresh())
            edit.dateChanged.connect(lambda _day: self.refresh())
        ctx.changes.changed.connect(self._data_changed)

    # Filters -------------------------------------------------------------------------------
    def query(self) -> AuditQuery:
        """What the filters select (CoachdeskError if the dates are the wrong way round)."""
        since = _day_start(self.since.date()) if self.since_on.isChecked() else None
        # The until date is included: the events before the next day begins.
        until = _day_start(self.until.date().addDays(1)) if self.until_on.isChecked() else None
        return AuditQuery(
            since=since,
            until=until,
            actions=self.action.currentData() or frozenset(),
            actor=self.actor.currentData(),
            page_rows=self.page_rows,
        )

    def _show_actors(self, choices: list[tuple[str, str | None]]) -> None:
        self._actors_loaded = True
        chosen = self.actor.currentData()
        self.actor.blockSignals(True)  # the same filter as before: no new read
        self.actor.clear()
        for label, actor in choices:
            self.actor.addItem(label, actor)
        self.actor.setCurrentIndex(max(self.actor.findData(chosen), 0))
        self.actor.blockSignals(False)

    # Reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """The first page for the filters as they are now."""
        if not self._actors_loaded:
            self.ctx.call(
                self,
                self.service.actor_choices,
                self._show_actors,
                # The events' read fails the same way and says so; the next refresh tries again.
                on_failure=lambda error: log.info("audit actors not read", reason=str(error)),
            )
        self._reading += 1  # whatever is on its way is for another filter
        reading = self._reading
        try:
            query = self.query()
        except CoachdeskError as error:
            self.count.setText(str(error))
            return
        self.more_button.setEnabled(False)
        self.count.setText("Reading the audit log…")
        self.ctx.call(
            self,
            lambda: self.service.events(query),
            lambda page: self._show_page(reading, query, page, first=True),
            on_failure=lambda error: self._failed(reading, error),
        )

    def load_more(self) -> None:
        """The next, older page after the events shown."""
        query, page, reading = self.shown_query, self.page, self._reading
        if query is None or page is None or page.next is None:
            return
        after = page.next
        self.more_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.service.events(query, after),
            lambda page: self._show_page(reading, query, page, first=False),
            label="Reading older events…",
            on_failure=lambda error: self._failed(reading, error),
        )

    def _show_page(self, reading: int, query: AuditQuery, page: AuditPage, *, first: bool) -> None:
        if reading != self._reading:
            return
        self.shown_query, self.page = query, page
        self.pages_shown = 1 if first else self.pages_shown + 1
        self.rows = list(page.events) if first else self.rows + list(page.events)
        self.model.set_rows(self.rows)
        self.more_button.setEnabled(page.more)
        if not self.rows:
            self.count.setText("No events match these filters.")
        else:
            more = " · older ones: Load more" if page.more else ""
            self.count.setText(f"{len(self.rows)} event(s), newest first{more}")

    def _failed(self, reading: int, error: BaseException) -> None:
        if reading != self._reading:
            return
        self.more_button.setEnabled(self.page is not None and self.page.more)
        self.count.setText(plain_message(error))
        show_error(self, error)

    def _data_changed(self, changes: Changes) -> None:
        # Never while older pages are shown: reading again would take them away.
        if self.isVisible() and self.pages_shown <= 1 and changes.touch(*AUDITED_DATA):
            self.refresh()

    # Export --------------------------------------------------------------------------------
    def export(self) -> None:
        """Ask where, then save every event the filters select there."""
        try:
            query = self.query()
        except CoachdeskError as error:
            show_error(self, error)
            return
        suggested = Path.home() / f"coachdesk-audit-log-{date.today():%Y-%m-%d}.csv"
        chosen, _kind = QFileDialog.getSaveFileName(
            self, "Export the audit log", str(suggested), "CSV files (*.csv)"
        )
        if not chosen:
            return
        path = Path(chosen if chosen.lower().endswith(".csv") else f"{chosen}.csv")
        self.export_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.service.export_csv(query, path),
            self._exported,
            label="Exporting the audit log…",
            on_failure=self._export_failed,
        )

    def _exported(self, export: AuditExport) -> None:
        self.last_export = export
        self.export_button.setEnabled(True)
        self.count.setText(
            f"Saved {export.rows} event(s) to {export.path}"
            if export.rows
            else f"No events match these filters: {export.path} holds only the header."
        )

    def _export_failed(self, error: BaseException) -> None:
        self.export_button.setEnabled(True)
        show_error(self, error, title="Audit log not exported")
