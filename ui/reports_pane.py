"""HR's Reports tab: the org's score and activity trends and KPI distributions (the server's
reporting accessors), completion of every assignment, who is overdue and how late, and the
exports (CSV through export_requests, the audit log, one-page team summaries as PDF).

Rendering and dispatch only: the charts are the manager pane's (ui/manager_charts.py) on the
whole org; progress comes from the client core (app/client/assignments.py, from the cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QSplitter, QVBoxLayout, QWidget

from app.client.assignments import ManagedAssignment, Progress
from app.client.views import Changes, OverviewMonth, ScenarioInsight, utc_now
from ui.assignments_pane import ASSIGNMENTS_DATA, AssignmentsModel
from ui.context import AppContext
from ui.errors import show_error
from ui.exports_panel import ExportsPanel
from ui.manager_charts import ManagerCharts
from ui.models import Column, RowTableModel
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.table import make_table

CHART_MONTHS = 6  # as the manager pane: twelve months of labels do not fit beside the tables


@dataclass(frozen=True)
class OverdueRow:
    person: str
    assignment: str
    due_at: datetime
    days_late: int
    key: str


class OverdueModel(RowTableModel[OverdueRow]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Person", lambda r: r.person),
                Column("Assignment", lambda r: r.assignment),
                Column("Was due", lambda r: f"{r.due_at.astimezone():%Y-%m-%d}"),
                Column("Days late", lambda r: str(r.days_late), sort=lambda r: r.days_late,
                       align_right=True),
            ]
        )  # fmt: skip

    def row_key(self, row: OverdueRow) -> str:
        return row.key


def overdue_rows(assignments: list[ManagedAssignment], at: datetime) -> list[OverdueRow]:
    """Everyone past a due date without passing, latest first."""
    rows = [
        OverdueRow(
            person=person.display_name,
            assignment=assignment.title,
            due_at=assignment.due_at,
            days_late=max((at - assignment.due_at).days, 0),
            key=f"{assignment.id}/{person.user_id}",
        )
        for assignment in assignments
        if assignment.due_at is not None
        for person in assignment.people
        if person.progress is Progress.OVERDUE
    ]
    return sorted(rows, key=lambda r: (-r.days_late, r.person.casefold()))


class ReportsPane(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("reportsPane")
        self.assignments: list[ManagedAssignment] = []
        self.title = heading("Reports")
        self.note = muted(
            "Trends and distributions are the server's reports (refreshed every minute); "
            "completion and overdue are from the latest sync."
        )
        self.note.setWordWrap(True)
        self.refresh_button = QPushButton("R&efresh")  # &R is the tab's
        self.charts = ManagerCharts(ctx.theme.colors)
        self.completion = AssignmentsModel()
        self.completion_table = make_table(
            self.completion, "completionTable", "Completion by assignment"
        )
        self.overdue = OverdueModel()
        self.overdue_table = make_table(self.overdue, "overdueTable", "Overdue", stretch=1)
        self.overdue_title = subheading("Overdue")

        tables = QWidget()
        tables_layout = QVBoxLayout(tables)
        tables_layout.setContentsMargins(0, 0, 0, 0)
        tables_layout.addWidget(subheading("Completion by assignment"))
        tables_layout.addWidget(self.completion_table, 1)
        tables_layout.addWidget(self.overdue_title)
        tables_layout.addWidget(self.overdue_table, 1)
        self.exports = ExportsPanel(ctx)  # it has its own heading
        tables_layout.addWidget(self.exports)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.charts)
        splitter.addWidget(tables)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.note)
        layout.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(self.refresh)
        ctx.changes.changed.connect(self._data_changed)
        ctx.theme.changed.connect(lambda: self.charts.set_colors(ctx.theme.colors))

    def refresh(self) -> None:
        backend = self.ctx.backend
        self.refresh_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: (backend.org_overview(CHART_MONTHS), backend.scenario_insights()),
            self._show_charts,
            label="Loading the org's reports…",
            on_failure=self._failed,
        )
        self.ctx.call(
            self, backend.managed_assignments, self.show_assignments, on_failure=self._failed
        )

    def _show_charts(self, result: tuple[list[OverviewMonth], list[ScenarioInsight]]) -> None:
        self.refresh_button.setEnabled(True)
        self.charts.show_data(*result)

    def show_assignments(self, assignments: list[ManagedAssignment]) -> None:
        self.assignments = assignments
        self.completion.set_rows(assignments)
        late = overdue_rows(assignments, utc_now())
        self.overdue.set_rows(late)
        self.overdue_title.setText(f"Overdue · {len(late)}" if late else "Overdue · nobody")

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch(*ASSIGNMENTS_DATA):
            self.ctx.call(self, self.ctx.backend.managed_assignments, self.show_assignments)

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)
