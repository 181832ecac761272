"""The manager's Assignments tab: what they assigned, where each person stands, edit, remind
and cancel.

Rendering and dispatch only: the list and each person's progress come from the client core
(app/client/assignments.py, read from the cache, so it works offline); an edit or a cancel is a
local write sent by the sync engine, refused by the server if the role does not allow it. A
reminder goes to the server at once (app/client/reminders.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, QModelIndex, QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.assignments import ManagedAssignment, PersonProgress, Progress
from app.client.formatting import due_text, score_text
from app.client.reminders import RemindersService, to_remind
from app.client.views import OUTBOX, Changes, utc_now
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.models import Column, RowTableModel
from ui.remind_dialog import RemindDialog
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.table import make_table

# What the list is built from (app.client.views.Changes names them).
ASSIGNMENTS_DATA = (
    "assignments",
    "scenario_attempts",
    "team_members",
    "org_members",
    "scenarios",
    "tracks",
    "track_scenarios",
    OUTBOX,
)


class AssignmentsModel(RowTableModel[ManagedAssignment]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Assignment", lambda a: a.title),
                Column("To", lambda a: a.assignee),
                Column("Due", _due),
                Column("Progress", lambda a: a.summary),
            ]
        )

    def row_key(self, row: ManagedAssignment) -> str:
        return row.id


def _due(assignment: ManagedAssignment) -> str:
    """When it is due; "Done" once everyone passed (an old due date is no longer news)."""
    people = assignment.people
    if people and assignment.count(Progress.PASSED) == len(people):
        return "Done"
    return due_text(assignment.due_at, utc_now())


class PeopleModel(RowTableModel[PersonProgress]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Person", lambda p: p.display_name),
                Column("Status", lambda p: p.progress.value),
                Column("Attempts", lambda p: str(p.attempts), align_right=True),
                Column("Best score", lambda p: score_text(p.best_score), align_right=True),
            ]
        )

    def row_key(self, row: PersonProgress) -> str:
        return row.user_id


class EditAssignmentDialog(QDialog):
    """The due date (or none) and the note of one assignment."""

    def __init__(self, assignment: ManagedAssignment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit “{assignment.title}”")
        self.setObjectName("editAssignmentDialog")
        self.due = QDateTimeEdit()
        self.due.setCalendarPopup(True)
        self.due.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.due.setAccessibleName("Due date")
        self.no_due = QCheckBox("No due date")
        if assignment.due_at is not None:
            self.due.setDateTime(QDateTime(assignment.due_at.astimezone()))
        else:
            later = QDateTime.currentDateTime().addDays(7)
            later.setTime(QTime(17, 0))
            self.due.setDateTime(later)
            self.no_due.setChecked(True)
        self.due.setEnabled(not self.no_due.isChecked())
        self.note = QLineEdit(assignment.note)
        self.note.setAccessibleName("Note for the assignees")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        due = QHBoxLayout()
        due.addWidget(self.due, 1)
        due.addWidget(self.no_due)
        form = QFormLayout()
        due_label = QLabel("&Due")
        due_label.setBuddy(self.due)
        form.addRow(due_label, due)
        note_label = QLabel("&Note")
        note_label.setBuddy(self.note)
        form.addRow(note_label, self.note)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.no_due.toggled.connect(lambda checked: self.due.setEnabled(not checked))
        self.buttons.rejected.connect(self.reject)

    def values(self) -> tuple[datetime | None, str]:
        due = None if self.no_due.isChecked() else self.due.dateTime().toPython().astimezone(UTC)
        return due, self.note.text().strip()

    def show_problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(text)
        self.message.show()


class AssignmentsPane(QWidget):
    """Every assignment the manager made (an admin: the org's), newest first."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("assignmentsPane")
        self.rows: list[ManagedAssignment] = []
        self.edit_dialog: EditAssignmentDialog | None = None
        self.remind_dialog: RemindDialog | None = None
        self.reminders = RemindersService(ctx.backend)

        self.title = heading("Assignments")
        self.count = muted()
        self.model = AssignmentsModel()
        self.table = make_table(self.model, "assignmentsTable", "Assignments you made", stretch=0)
        self.people_title = subheading("People")
        self.people = PeopleModel()
        self.people_table = make_table(
            self.people, "assignmentPeople", "Assigned people", stretch=0
        )
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setToolTip("Change the due date or the note")
        self.remind_button = QPushButton("Re&mind…")
        self.remind_button.setToolTip(
            "Remind everyone who has not passed it yet, or the person selected"
        )
        self.cancel_button = QPushButton("&Cancel assignment…")
        self.cancel_button.setToolTip("Withdraw it; attempts already made stay")
        self.refresh_button = QPushButton("&Refresh")
        for button in (self.edit_button, self.remind_button, self.cancel_button):
            button.setEnabled(False)
        self.reminded = muted()
        self.reminded.setObjectName("reminded")
        self.reminded.hide()

        actions = QHBoxLayout()
        actions.addWidget(self.count, 1)
        actions.addWidget(self.edit_button)
        actions.addWidget(self.remind_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.refresh_button)
        people = QWidget()
        people_layout = QVBoxLayout(people)
        people_layout.setContentsMargins(0, 0, 0, 0)
        people_layout.addWidget(self.people_title)
        people_layout.addWidget(self.people_table, 1)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(people)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(actions)
        layout.addWidget(self.reminded)
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(self.refresh)
        self.edit_button.clicked.connect(self.edit_selected)
        self.remind_button.clicked.connect(self.remind_selected)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.table.selectionModel().currentRowChanged.connect(self._selected)
        self.table.activated.connect(lambda _index: self.edit_selected())
        ctx.changes.changed.connect(self._data_changed)

    # Reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.ctx.call(
            self,
            self.ctx.backend.managed_assignments,
            self.show_rows,
            on_failure=self._failed,
        )

    def show_rows(self, rows: list[ManagedAssignment]) -> None:
        self.rows = rows
        self.refresh_button.setEnabled(True)
        self.model.set_rows(rows)
        overdue = sum(a.count(Progress.OVERDUE) for a in rows)
        self.count.setText(
            f"{len(rows)} assignment(s)" + (f" · {overdue} person(s) overdue" if overdue else "")
            if rows
            else "You have not assigned anything yet: New assignment is on the Team tab."
        )
        self._selected(self.table.currentIndex())

    def selected(self) -> ManagedAssignment | None:
        return self._row_at(self.table.currentIndex())

    def _row_at(self, index: QModelIndex) -> ManagedAssignment | None:
        return self.rows[index.row()] if index.isValid() and index.row() < len(self.rows) else None

    def _selected(self, index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        chosen = self._row_at(index)
        for button in (self.edit_button, self.cancel_button):
            button.setEnabled(chosen is not None)
        self.remind_button.setEnabled(chosen is not None and bool(to_remind(chosen)))
        self.people.set_rows(list(chosen.people) if chosen else [])
        self.people_title.setText(f"People · {chosen.title}" if chosen else "People")

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch(*ASSIGNMENTS_DATA):
            self.refresh()

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    # Changing ------------------------------------------------------------------------------
    def edit_selected(self) -> EditAssignmentDialog | None:
        chosen = self.selected()
        if chosen is None:
            return None
        dialog = EditAssignmentDialog(chosen, self)
        dialog.buttons.accepted.connect(lambda: self._save(dialog, chosen.id))
        dialog.open()
        self.edit_dialog = dialog
        return dialog

    def _save(self, dialog: EditAssignmentDialog, assignment_id: str) -> None:
        due, note = dialog.values()
        if due is not None and due < datetime.now(UTC):
            dialog.show_problem("The due date is in the past; choose a later one.")
            return
        dialog.buttons.setEnabled(False)
        self.ctx.call(
            dialog,
            lambda: self.ctx.backend.update_assignment(assignment_id, due_at=due, note=note),
            lambda _none: (dialog.accept(), self.refresh()),
            label="Saving the assignment…",
            on_failure=lambda error: dialog.show_problem(plain_message(error)),
        )

    def selected_person(self) -> PersonProgress | None:
        index = self.people_table.currentIndex()
        rows = self.people.rows
        return rows[index.row()] if index.isValid() and index.row() < len(rows) else None

    def remind_selected(self) -> RemindDialog | None:
        chosen = self.selected()
        if chosen is None or not to_remind(chosen):
            return None
        dialog = RemindDialog(chosen, self.selected_person(), self)
        dialog.buttons.accepted.connect(lambda: self._remind(dialog, chosen))
        dialog.open()
        self.remind_dialog = dialog
        return dialog

    def _remind(self, dialog: RemindDialog, assignment: ManagedAssignment) -> None:
        dialog.buttons.setEnabled(False)
        people, note = dialog.people(), dialog.note.text()
        self.ctx.call(
            dialog,
            lambda: self.reminders.remind(assignment, people, note),
            lambda count: self._reminded(dialog, assignment, count),
            label="Sending the reminder…",
            on_failure=lambda error: dialog.show_problem(plain_message(error)),
        )

    def _reminded(self, dialog: RemindDialog, assignment: ManagedAssignment, count: int) -> None:
        dialog.accept()
        self.reminded.setText(
            f"Reminded {count} {'person' if count == 1 else 'people'} of “{assignment.title}”: "
            "they see it on their home after their next sync."
        )
        self.reminded.show()

    def cancel_selected(self) -> QMessageBox | None:
        chosen = self.selected()
        if chosen is None:
            return None
        return confirm_destructive(
            self,
            name="cancelAssignment",
            title="Cancel assignment",
            text=f"Withdraw “{chosen.title}” from {chosen.assignee}? It leaves their home at "
            "their next sync; attempts already made stay in reports.",
            action="Cancel assignment",
            on_confirm=lambda: self._cancel(chosen.id),
        )

    def _cancel(self, assignment_id: str) -> None:
        self.ctx.call(
            self,
            lambda: self.ctx.backend.cancel_assignment(assignment_id),
            lambda _none: self.refresh(),
            label="Cancelling the assignment…",
            on_failure=lambda error: show_error(self, error),
        )
