"""Create an assignment: a scenario or a track, to a person or a team (and, ticked in "Also
to", as many more people and teams as wanted, in one go), with an optional due date.

The server decides (RLS: managers and admins of the org); a refusal is shown in the dialog in
plain words and the form is kept, so nothing typed is lost.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.client.views import Member, NewAssignment, Scenario, Team, Track
from ui.context import AppContext
from ui.errors import plain_message

DEFAULT_DUE_DAYS = 7


class AssignDialog(QDialog):
    created = Signal(str)  # the (first) new assignment's id
    created_all = Signal(list)  # every new assignment's id, the first first

    def __init__(
        self,
        ctx: AppContext,
        *,
        scenarios: list[Scenario],
        tracks: list[Track],
        members: list[Member],
        teams: list[Team],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("New assignment")
        self.setObjectName("assignDialog")
        self.setModal(True)

        self.scenario_choice = QRadioButton("&Scenario")
        self.track_choice = QRadioButton("T&rack")
        self.content = QComboBox()
        self.content.setAccessibleName("Scenario or track to assign")
        self.person_choice = QRadioButton("&Person")
        self.team_choice = QRadioButton("Te&am")
        self.assignee = QComboBox()
        self.assignee.setAccessibleName("Person or team")
        self.due = QDateTimeEdit()
        self.due.setCalendarPopup(True)
        self.due.setAccessibleName("Due date")
        self.due.setDisplayFormat("yyyy-MM-dd HH:mm")
        default_due = QDateTime.currentDateTime().addDays(DEFAULT_DUE_DAYS)
        default_due.setTime(QTime(17, 0))
        self.due.setDateTime(default_due)
        self.no_due = QCheckBox("No due date")
        self.also = QListWidget()
        self.also.setAccessibleName("Also assign to")
        self.also.setMaximumHeight(120)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Optional note for the trainee")
        self.message = QLabel()
        self.message.setObjectName("assignMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Assign")

        self._scenarios = [s for s in scenarios if s.status == "published"]
        self._tracks = tracks
        # Trainees first: they are who assignments are mostly for.
        self._members = sorted(members, key=lambda m: (m.role != "trainee", m.display_name))
        self._teams = teams
        for group in (
            (self.scenario_choice, self.track_choice),
            (self.person_choice, self.team_choice),
        ):
            buttons = QButtonGroup(self)
            for button in group:
                buttons.addButton(button)
        self.scenario_choice.setChecked(True)
        self.person_choice.setChecked(True)

        what = QHBoxLayout()
        what.addWidget(self.scenario_choice)
        what.addWidget(self.track_choice)
        what.addWidget(self.content, 1)
        who = QHBoxLayout()
        who.addWidget(self.person_choice)
        who.addWidget(self.team_choice)
        who.addWidget(self.assignee, 1)
        due = QHBoxLayout()
        due.addWidget(self.due, 1)
        due.addWidget(self.no_due)
        form = QFormLayout()
        form.addRow("What", what)
        form.addRow("Who", who)
        due_label = QLabel("&Due")
        due_label.setBuddy(self.due)
        form.addRow(due_label, due)
        also_label = QLabel("Also t&o")
        also_label.setBuddy(self.also)
        form.addRow(also_label, self.also)
        form.addRow("&Note", self.note)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        self.scenario_choice.toggled.connect(self._fill_content)
        self.person_choice.toggled.connect(self._fill_assignee)
        self.no_due.toggled.connect(lambda checked: self.due.setEnabled(not checked))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._fill_content()
        self._fill_assignee()
        self._fill_also()
        self.content.setFocus()

    def assignment(self) -> NewAssignment:
        content, assignee = self.content.currentData(), self.assignee.currentData()
        if content is None or assignee is None:
            raise ValueError("Choose what to assign and to whom.")
        due: datetime | None = None
        if not self.no_due.isChecked():
            due = self.due.dateTime().toPython().astimezone(UTC)
            if due < datetime.now(UTC) - timedelta(minutes=1):
                raise ValueError("The due date is in the past; choose a later one.")
        by_scenario, by_person = self.scenario_choice.isChecked(), self.person_choice.isChecked()
        return NewAssignment(
            scenario_id=content if by_scenario else None,
            track_id=None if by_scenario else content,
            user_id=assignee if by_person else None,
            team_id=None if by_person else assignee,
            due_at=due,
            note=self.note.text().strip(),
        )

    def assignments(self) -> list[NewAssignment]:
        """The chosen assignee's, then one for each person or team ticked in "Also to"."""
        first = self.assignment()
        chosen = {(first.user_id, first.team_id)}
        more = []
        for row in range(self.also.count()):
            item = self.also.item(row)
            if item.checkState() is not Qt.CheckState.Checked:
                continue
            kind, key = item.data(Qt.ItemDataRole.UserRole)
            target = (key, None) if kind == "person" else (None, key)
            if target in chosen:
                continue
            chosen.add(target)
            more.append(replace(first, user_id=target[0], team_id=target[1]))
        return [first, *more]

    def submit(self) -> None:
        try:
            new = self.assignments()
        except ValueError as error:
            self._show_problem(str(error))
            return
        self.buttons.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.ctx.backend.create_assignments(new),
            self._created,
            label="Creating the assignment…" if len(new) == 1 else "Creating the assignments…",
            on_failure=lambda error: self._show_problem(plain_message(error)),
        )

    def _created(self, assignment_ids: list[str]) -> None:
        self.created.emit(assignment_ids[0])
        self.created_all.emit(assignment_ids)
        self.accept()

    def _fill_also(self) -> None:
        for member in self._members:
            item = QListWidgetItem(f"{member.display_name} ({member.role})")
            item.setData(Qt.ItemDataRole.UserRole, ("person", member.user_id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.also.addItem(item)
        for team in self._teams:
            item = QListWidgetItem(f"Team {team.name} ({len(team.member_ids)} people)")
            item.setData(Qt.ItemDataRole.UserRole, ("team", team.id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.also.addItem(item)

    def _show_problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {self.ctx.theme.colors.bad};")
        self.message.show()

    def _fill_content(self) -> None:
        self.content.clear()
        if self.scenario_choice.isChecked():
            for scenario in self._scenarios:
                self.content.addItem(f"{scenario.title} ({scenario.difficulty})", scenario.id)
        else:
            for track in self._tracks:
                self.content.addItem(
                    f"{track.title} ({len(track.scenario_ids)} scenarios)", track.id
                )

    def _fill_assignee(self) -> None:
        self.assignee.clear()
        if self.person_choice.isChecked():
            for member in self._members:
                self.assignee.addItem(f"{member.display_name} ({member.role})", member.user_id)
        else:
            for team in self._teams:
                self.assignee.addItem(f"{team.name} ({len(team.member_ids)} people)", team.id)
        self.assignee.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.assignee.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
