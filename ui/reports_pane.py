"""HR's Reports tab: the org's score and activity trends and KPI distributions, completion by
team, by track and by assignment, who is overdue and how late, each scenario's pass rate and
spread of scores (the server's reporting accessors), and the exports (CSV through
export_requests, the audit log, one-page team summaries as PDF).

Rendering and dispatch only: the charts are the manager pane's (ui/manager_charts.py) on the
whole org; the reports come from the client core (app/client/reports.py), which falls back to
this computer's copy when the server cannot be reached. The tab is usable at once: every
report loads on the network worker and says "Loading…" until it arrives.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QSplitter, QVBoxLayout, QWidget

from app.client.reports import (
    FROM_THIS_COMPUTER,
    CompletionReport,
    ReportsService,
    ScenarioScores,
)
from app.client.views import Changes, OverviewMonth, ScenarioInsight
from ui.assignments_pane import ASSIGNMENTS_DATA
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.exports_panel import ExportsPanel
from ui.manager_charts import ManagerCharts
from ui.report_tables import OverdueModel, ReportTabs
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.table import make_table

CHART_MONTHS = 6  # as the manager pane: twelve months of labels do not fit beside the tables
LOADING = "Loading…"


class ReportsPane(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = ReportsService(ctx.backend)
        self.setObjectName("reportsPane")
        self.report: CompletionReport | None = None
        self.title = heading("Reports")
        self.note = muted(
            "The server's reports: trends and score distributions as of its latest refresh "
            "(every minute), completion and overdue as of now."
        )
        self.note.setWordWrap(True)
        self.refresh_button = QPushButton("R&efresh")  # &R is the tab's
        self.charts = ManagerCharts(ctx.theme.colors)
        self.tabs = ReportTabs(LOADING)
        # The tables' models, as the tests and the screenshots read them.
        self.teams, self.tracks = self.tabs.teams, self.tabs.tracks
        self.completion, self.scores = self.tabs.completion, self.tabs.scores
        self.overdue = OverdueModel()
        self.completion_title = subheading(f"Completion · {LOADING}")
        self.overdue_title = subheading(f"Overdue · {LOADING}")
        self.overdue_table = make_table(self.overdue, "overdueTable", "Overdue", stretch=1)

        tables = QWidget()
        tables_layout = QVBoxLayout(tables)
        tables_layout.setContentsMargins(0, 0, 0, 0)
        tables_layout.addWidget(self.completion_title)
        tables_layout.addWidget(self.tabs, 1)
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
        # A bound slot, not a lambda: Qt drops it with this widget (a lambda outlived it).
        ctx.theme.changed.connect(self._recolor)

    def _recolor(self) -> None:
        self.charts.set_colors(self.ctx.theme.colors)

    @property
    def loading(self) -> bool:
        """Whether a report has yet to arrive (the tab is usable meanwhile)."""
        return LOADING in (self.completion_title.text() + self.overdue_title.text())

    def refresh(self) -> None:
        """Every report on the network worker, one call each, so each shows as it arrives."""
        backend = self.ctx.backend
        self.refresh_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: (backend.org_overview(CHART_MONTHS), backend.scenario_insights()),
            self._show_charts,
            label="Loading the org's reports…",
            on_failure=self._failed,
        )
        self._load_completion()
        self.ctx.call(
            self, self.service.score_distribution, self.show_scores, on_failure=self._no_scores
        )

    def _load_completion(self) -> None:
        self.ctx.call(
            self, self.service.completion, self.show_completion, on_failure=self._no_completion
        )

    def _show_charts(self, result: tuple[list[OverviewMonth], list[ScenarioInsight]]) -> None:
        self.refresh_button.setEnabled(True)
        self.charts.show_data(*result)

    def show_completion(self, report: CompletionReport) -> None:
        self.report = report
        self.tabs.show_completion(report)
        self.overdue.set_rows(report.overdue)
        source = f" · {FROM_THIS_COMPUTER}" if report.from_this_computer else ""
        self.completion_title.setText(f"Completion{source}")
        late = len(report.overdue)
        self.overdue_title.setText(
            f"Overdue · {late}{source}" if late else f"Overdue · nobody{source}"
        )

    def show_scores(self, scores: list[ScenarioScores]) -> None:
        self.tabs.show_scores(scores)

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch(*ASSIGNMENTS_DATA):
            self._load_completion()

    def _no_completion(self, error: BaseException) -> None:
        self.completion_title.setText(f"Completion · {plain_message(error)}")
        self.overdue_title.setText("Overdue")

    def _no_scores(self, error: BaseException) -> None:
        self.tabs.scores_status.setText(plain_message(error))

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)
