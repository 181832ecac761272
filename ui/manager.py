"""The manager pane (managers and admins only; constructed for no one else, and the server
refuses others anyway): the team's attempts with filters and sorting, any attempt's review,
charts, and new assignments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.client.views import (
    AttemptRow,
    Backend,
    Member,
    OverviewMonth,
    Scenario,
    ScenarioInsight,
    Team,
    Track,
)
from ui.assign_dialog import AssignDialog
from ui.context import AppContext
from ui.errors import show_error
from ui.manager_charts import ManagerCharts
from ui.models import ROW_ROLE, AttemptFilterProxy, AttemptsModel
from ui.widgets.headings import heading, muted
from ui.widgets.table import make_table

CHART_MONTHS = 6
# QDateEdit/QDoubleSpinBox show their special value text ("Any") at their minimum.
NO_DATE = QDate(2000, 1, 1)
NO_SCORE = -1.0


@dataclass(frozen=True)
class ManagerData:
    attempts: list[AttemptRow]
    members: list[Member]
    teams: list[Team]
    scenarios: list[Scenario]
    tracks: list[Track]

    @classmethod
    def load(cls, backend: Backend) -> ManagerData:
        return cls(
            backend.org_attempts(),
            backend.members(),
            backend.teams(),
            backend.scenarios(),
            backend.tracks(),
        )


class AttemptFilters(QWidget):
    """Person, team, scenario, date range and score range; `changed` on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.person = self._combo("Person")
        self.team = self._combo("Team")
        self.scenario = self._combo("Scenario")
        self.since = self._date("From date")
        self.until = self._date("To date")
        self.min_score = self._score("Lowest score")
        self.max_score = self._score("Highest score")
        self.clear_button = QPushButton("C&lear filters")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        row = [
            ("P&erson", self.person),
            ("&Team", self.team),
            ("S&cenario", self.scenario),
            ("&From", self.since),
            ("&To", self.until),
            ("Score ≥", self.min_score),
            ("Score ≤", self.max_score),
        ]
        for column, (text, widget) in enumerate(row):
            label = QLabel(text)
            label.setBuddy(widget)
            grid.addWidget(label, 0, column)
            grid.addWidget(widget, 1, column)
        grid.addWidget(self.clear_button, 1, len(row))
        self.clear_button.clicked.connect(self.clear)

    def set_choices(
        self, members: list[Member], teams: list[Team], scenarios: list[Scenario]
    ) -> None:
        for combo, items in (
            (self.person, [(m.display_name, m.user_id) for m in members]),
            (self.team, [(t.name, t.id) for t in teams]),
            (self.scenario, [(s.title, s.id) for s in scenarios]),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("Any", None)
            for text, value in items:
                combo.addItem(text, value)
            combo.setCurrentIndex(max(combo.findData(current), 0))
            combo.blockSignals(False)

    def values(self) -> dict[str, object]:
        return {
            "person": self.person.currentData(),
            "team": self.team.currentData(),
            "scenario": self.scenario.currentData(),
            "since": _date_or_none(self.since),
            "until": _date_or_none(self.until),
            "min_score": _score_or_none(self.min_score),
            "max_score": _score_or_none(self.max_score),
        }

    def clear(self) -> None:
        for combo in (self.person, self.team, self.scenario):
            combo.setCurrentIndex(0)
        for edit in (self.since, self.until):
            edit.setDate(NO_DATE)
        for spin in (self.min_score, self.max_score):
            spin.setValue(NO_SCORE)

    def _combo(self, name: str) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.addItem("Any", None)
        combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        return combo

    def _date(self, name: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setAccessibleName(name)
        edit.setCalendarPopup(True)
        edit.setMinimumDate(NO_DATE)
        edit.setSpecialValueText("Any")
        edit.setDate(NO_DATE)
        edit.dateChanged.connect(lambda _d: self.changed.emit())
        return edit

    def _score(self, name: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setAccessibleName(name)
        spin.setRange(NO_SCORE, 100)
        spin.setDecimals(0)
        spin.setSpecialValueText("Any")
        spin.setValue(NO_SCORE)
        spin.valueChanged.connect(lambda _v: self.changed.emit())
        return spin


def _date_or_none(edit: QDateEdit) -> date | None:
    return None if edit.date() == NO_DATE else edit.date().toPython()


def _score_or_none(spin: QDoubleSpinBox) -> Decimal | None:
    return None if spin.value() == NO_SCORE else Decimal(str(int(spin.value())))


class ManagerPane(QWidget):
    open_attempt = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        account = ctx.backend.account
        if account is None or not account.is_manager:
            # The window never builds this pane for trainees; refuse loudly if a bug ever did.
            raise PermissionError("the manager pane is only for managers and admins")
        self.ctx = ctx
        self.setObjectName("managerPane")
        self.data: ManagerData | None = None

        self.assign_button = QPushButton("&New assignment…")
        self.assign_button.setObjectName("primary")
        self.refresh_button = QPushButton("&Refresh")
        self.filters = AttemptFilters()
        self.model = AttemptsModel(with_person=True, colors=ctx.theme.colors)
        self.proxy = AttemptFilterProxy()
        self.proxy.setSourceModel(self.model)
        self.table = make_table(self.proxy, "managerAttemptTable", "Team attempts", stretch=2)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(
            0, self.table.horizontalHeader().sortIndicatorOrder().DescendingOrder
        )
        self.count = muted()
        self.count.setObjectName("attemptCount")
        self.no_match = QLabel()
        self.no_match.setObjectName("noMatchingAttempts")
        self.no_match.setWordWrap(True)
        self.no_match.hide()
        self.review_button = QPushButton("&Open review")
        self.review_button.setEnabled(False)
        self.charts = ManagerCharts(ctx.theme.colors)

        attempts_tab = QWidget()
        attempts_layout = QVBoxLayout(attempts_tab)
        attempts_layout.addWidget(self.filters)
        attempts_layout.addWidget(self.no_match)
        attempts_layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.review_button)
        attempts_layout.addLayout(bottom)
        self.tabs = QTabWidget()
        self.tabs.addTab(attempts_tab, "Team &attempts")
        self.tabs.addTab(self.charts, "C&harts")
        top = QHBoxLayout()
        top.addWidget(heading(f"Team · {account.org_name}"))
        top.addStretch()
        top.addWidget(self.refresh_button)
        top.addWidget(self.assign_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

        self.filters.changed.connect(self.apply_filters)
        self.refresh_button.clicked.connect(self.refresh)
        self.assign_button.clicked.connect(self.new_assignment)
        self.review_button.clicked.connect(self._open_selected)
        self.table.activated.connect(lambda _index: self._open_selected())
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.review_button.setEnabled(current.isValid())
        )
        ctx.theme.changed.connect(self._recolor)

    def refresh(self) -> None:
        backend = self.ctx.backend
        self.refresh_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: ManagerData.load(backend),
            self.show_data,
            label="Loading the team's attempts…",
            on_failure=self._failed,
        )
        self.ctx.call(
            self,
            lambda: (backend.org_overview(CHART_MONTHS), backend.scenario_insights()),
            self._show_charts,
            on_failure=self._failed,
        )

    def show_data(self, data: ManagerData) -> None:
        self.data = data
        self.refresh_button.setEnabled(True)
        self.filters.set_choices(data.members, data.teams, data.scenarios)
        self.model.set_rows(data.attempts)
        self.charts.set_team_data(data.teams, data.attempts)
        self.apply_filters()

    def apply_filters(self) -> None:
        self.proxy.set_filters(**self.filters.values())
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown} of {total} attempts shown")
        # An empty table under filters looks like missing data; say why it is empty.
        self.no_match.setVisible(shown == 0)
        self.no_match.setText(
            f"No attempts match these filters. Widen them, or use Clear filters to see all {total}."
            if total
            else "No attempts in this org yet: they appear here once people practise."
        )

    def visible_attempts(self) -> list[AttemptRow]:
        return [self.proxy.index(r, 0).data(ROW_ROLE) for r in range(self.proxy.rowCount())]

    def new_assignment(self) -> None:
        if self.data is None:
            return
        dialog = AssignDialog(
            self.ctx,
            scenarios=self.data.scenarios,
            tracks=self.data.tracks,
            members=self.data.members,
            teams=self.data.teams,
            parent=self,
        )
        dialog.created.connect(lambda _id: self.count.setText("Assignment created."))
        dialog.open()
        self.assign_dialog = dialog

    def _show_charts(self, result: tuple[list[OverviewMonth], list[ScenarioInsight]]) -> None:
        self.charts.show_data(*result)

    def _open_selected(self) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self.open_attempt.emit(index.data(ROW_ROLE).id)

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    def _recolor(self) -> None:
        self.model.set_colors(self.ctx.theme.colors)
        self.charts.set_colors(self.ctx.theme.colors)
