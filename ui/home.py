"""The trainee's home: unread reminders from their managers (ui/reminders_panel.py), open
assignments by due date (overdue first and highlighted), completed ones after them, track
progress, start practice, and recent attempts with their score (provisional until the server's
arrives).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import due_text, score_text
from app.client.views import (
    OUTBOX,
    Assignment,
    AttemptRow,
    Changes,
    HomeData,
    Scenario,
    utc_now,
)
from ui.context import AppContext
from ui.errors import show_error
from ui.models import ROW_ROLE, AssignmentsModel, AttemptsModel
from ui.reminders_panel import RemindersPanel
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.table import make_table

# A thin bar reads as a gauge; at a button's height, beside the Start button, it read as one.
PROGRESS_BAR_HEIGHT = 8
# What home shows comes from these (app.client.views.Changes names them).
HOME_DATA = (
    "assignments",
    "scenarios",
    "scenario_attempts",
    "tracks",
    "track_scenarios",
    "org_members",
    OUTBOX,
)


def _content(assignment: Assignment) -> Hashable:
    """What an assignment asks to practise: the same track given to a person and to their team
    is one piece of work."""
    return assignment.kind, assignment.title, assignment.scenario_ids


def _order(assignment: Assignment) -> tuple[bool, bool, float]:
    """Open before completed; within each, soonest due first, undated last."""
    due = assignment.due_at
    return assignment.done, due is None, due.timestamp() if due else 0.0


def home_assignments(assignments: Sequence[Assignment]) -> tuple[Assignment, ...]:
    """The assignments as the home lists them: each piece of work once (the copy due soonest
    that is still open), open ones first."""
    kept: dict[Hashable, Assignment] = {}
    for assignment in sorted(assignments, key=_order):
        kept.setdefault(_content(assignment), assignment)
    return tuple(kept.values())


class HomeScreen(QWidget):
    start_practice = Signal(object, object)  # Scenario, assignment id or None
    open_attempt = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("homeScreen")
        self.data: HomeData | None = None
        self.greeting = heading()
        self.summary = muted()
        self.refresh_button = QPushButton("&Refresh")
        self.reminders = RemindersPanel(ctx)

        self.assignments = AssignmentsModel(ctx.theme.colors)
        self.assignment_table = make_table(
            self.assignments, "assignmentTable", "Your assignments", stretch=0
        )
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        # A word-wrapped label asks for little width; without this, with no gauge beside it,
        # the layout gave the room to the button and wrapped the text into a narrow column.
        self.detail.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.track_progress = QProgressBar()
        self.track_progress.setAccessibleName("Progress of the selected assignment")
        self.track_progress.setTextVisible(False)
        self.track_progress.setFixedHeight(PROGRESS_BAR_HEIGHT)
        self.progress_text = muted()
        self.progress_text.setObjectName("progressText")
        self.start_button = QPushButton("&Start practice")
        self.start_button.setObjectName("primary")
        self.start_button.setEnabled(False)
        self.start_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)

        self.attempts = AttemptsModel(with_person=False, colors=ctx.theme.colors)
        self.attempt_table = make_table(
            self.attempts, "recentAttemptTable", "Your recent attempts", stretch=1
        )
        self.review_button = QPushButton("&Open review")
        self.review_button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.greeting)
        top.addStretch()
        top.addWidget(self.refresh_button)
        assignment_box = QWidget()
        box = QVBoxLayout(assignment_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(subheading("Assignments"))
        box.addWidget(self.assignment_table)
        progress = QHBoxLayout()
        progress.addWidget(self.progress_text)
        progress.addWidget(self.track_progress, 1)
        about_selected = QVBoxLayout()
        about_selected.addWidget(self.detail)
        about_selected.addLayout(progress)
        actions = QHBoxLayout()
        actions.addLayout(about_selected, 1)
        actions.addWidget(self.start_button)
        box.addLayout(actions)
        attempt_box = QWidget()
        box2 = QVBoxLayout(attempt_box)
        box2.setContentsMargins(0, 0, 0, 0)
        attempts_header = QHBoxLayout()
        attempts_header.addWidget(subheading("Recent attempts"))
        attempts_header.addStretch()
        attempts_header.addWidget(self.review_button)
        box2.addLayout(attempts_header)
        box2.addWidget(self.attempt_table)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(assignment_box)
        splitter.addWidget(attempt_box)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.reminders)
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(self.refresh)
        self.start_button.clicked.connect(self._start_selected)
        self.review_button.clicked.connect(self._open_selected)
        self.assignment_table.activated.connect(lambda _index: self._start_selected())
        self.attempt_table.activated.connect(lambda _index: self._open_selected())
        self.assignment_table.selectionModel().currentRowChanged.connect(self._assignment_changed)
        self.attempt_table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.review_button.setEnabled(current.isValid())
        )
        ctx.theme.changed.connect(self._recolor)
        ctx.changes.changed.connect(self._data_changed)

    def _data_changed(self, changes: Changes) -> None:
        """A round or a local write changed what home shows: read it again if on screen (the
        window refreshes home whenever it shows it)."""
        if self.isVisible() and self.ctx.backend.account is not None and changes.touch(*HOME_DATA):
            self.refresh()

    def refresh(self) -> None:
        account = self.ctx.backend.account
        if account is not None:
            self.greeting.setText(f"Hello, {account.display_name.split(' ')[0]}")
        self.refresh_button.setEnabled(False)
        self.reminders.refresh()
        self.ctx.call(
            self,
            self.ctx.backend.home,
            self.show_data,
            label="Loading your assignments…",
            on_failure=self._failed,
        )

    def show_data(self, data: HomeData) -> None:
        data = replace(data, assignments=home_assignments(data.assignments))
        self.data = data
        self.refresh_button.setEnabled(True)
        self.assignments.set_rows(data.assignments)
        self.attempts.set_rows(data.recent_attempts)
        now = utc_now()
        overdue = sum(a.overdue(now) for a in data.assignments)
        due = sum(not a.done for a in data.assignments)
        self.summary.setText(
            f"{due} assignment{'s' if due != 1 else ''} to do"
            + (f", {overdue} overdue" if overdue else "")
            + "."
        )
        if not self.assignment_table.currentIndex().isValid():
            self._preselect_open()
        self._assignment_changed(self.assignment_table.currentIndex(), QModelIndex())

    def _preselect_open(self) -> None:
        """Select the first open assignment (the one to do next); none when all are done."""
        assert self.data is not None
        first_open = next((r for r, a in enumerate(self.data.assignments) if not a.done), None)
        if first_open is not None:
            self.assignment_table.selectRow(first_open)

    def selected_assignment(self) -> Assignment | None:
        index = self.assignment_table.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    def selected_attempt(self) -> AttemptRow | None:
        index = self.attempt_table.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    def scenario_to_practise(self, assignment: Assignment) -> Scenario | None:
        """The assignment's next scenario not yet passed."""
        if self.data is None:
            return None
        passed = frozenset(
            a.scenario_id
            for a in self.data.recent_attempts
            if a.passed and a.scenario_id in assignment.scenario_ids
        )
        scenario_id = assignment.next_scenario_id(passed)
        return self.data.scenarios.get(scenario_id) if scenario_id else None

    def _assignment_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        assignment = current.data(ROW_ROLE) if current.isValid() else None
        self.start_button.setEnabled(assignment is not None)
        self.track_progress.setVisible(assignment is not None)
        self.progress_text.setVisible(assignment is not None)
        if assignment is None:
            self.detail.setText(self._nothing_selected())
            return
        self.track_progress.setRange(0, max(assignment.total, 1))
        self.track_progress.setValue(assignment.completed)
        self.progress_text.setText(f"{assignment.completed} of {assignment.total} passed")
        next_scenario = self.scenario_to_practise(assignment)
        parts = ["Completed" if assignment.done else due_text(assignment.due_at, utc_now())]
        if assignment.best_score is not None:
            parts.append(f"best {score_text(assignment.best_score)}")
        if next_scenario is not None and assignment.kind == "track":
            parts.append(f"next: {next_scenario.title}")
        if assignment.note:
            parts.append(f"“{assignment.note}”")
        self.detail.setText(" · ".join(parts))

    def _nothing_selected(self) -> str:
        if self.data is None:
            return ""
        if not self.data.assignments:
            return "Nothing is assigned to you yet: your manager's assignments show here."
        if all(a.done for a in self.data.assignments):
            return "All your assignments are completed. Select one to practise it again."
        return "No assignment selected."

    def _start_selected(self) -> None:
        assignment = self.selected_assignment()
        scenario = self.scenario_to_practise(assignment) if assignment else None
        if assignment is not None and scenario is not None:
            self.start_practice.emit(scenario, assignment.id)

    def _open_selected(self) -> None:
        attempt = self.selected_attempt()
        if attempt is not None:
            self.open_attempt.emit(attempt.id)

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    def _recolor(self) -> None:
        self.assignments.set_colors(self.ctx.theme.colors)
        self.attempts.set_colors(self.ctx.theme.colors)
