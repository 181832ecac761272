"""The manager's Remind… dialog: who a reminder of an assignment reaches, and an optional note.

Rendering only; the pane sends it (app/client/reminders.py) and shows the server's answer here.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.client.assignments import ManagedAssignment, PersonProgress
from app.client.reminders import NOTE_LIMIT, to_remind
from ui.widgets.headings import subheading


def _names(people: tuple[PersonProgress, ...]) -> str:
    names = [p.display_name for p in people]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class RemindDialog(QDialog):
    """Everyone who has not passed, or only the person selected (when they have not)."""

    def __init__(
        self,
        assignment: ManagedAssignment,
        person: PersonProgress | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Remind about “{assignment.title}”")
        self.setObjectName("remindDialog")
        self.everyone_people = to_remind(assignment)
        self.person = person if person in self.everyone_people else None
        count = len(self.everyone_people)
        self.everyone = QRadioButton(
            f"&Everyone who has not passed yet ({count}): {_names(self.everyone_people)}"
        )
        self.only = QRadioButton(f"&Only {self.person.display_name}" if self.person else "")
        self.only.setVisible(self.person is not None)
        (self.only if self.person else self.everyone).setChecked(True)
        explain = QLabel(
            "They see the reminder on their home after their next sync. One reminder an hour "
            "per person and assignment."
        )
        explain.setObjectName("muted")
        explain.setWordWrap(True)
        self.note = QLineEdit()
        self.note.setMaxLength(NOTE_LIMIT)
        self.note.setPlaceholderText("e.g. “Please finish it before Friday.”")
        self.note.setAccessibleName("Note with the reminder")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send = self.buttons.addButton("&Send reminder", QDialogButtonBox.ButtonRole.AcceptRole)
        self.send.setDefault(True)
        note_label = QLabel("&Note (optional)")
        note_label.setBuddy(self.note)
        layout = QVBoxLayout(self)
        # The title again inside: without a window manager's frame (kiosks, Xvfb) it is all
        # that says what the dialog is about.
        layout.addWidget(subheading(self.windowTitle()))
        layout.addWidget(self.everyone)
        layout.addWidget(self.only)
        layout.addWidget(explain)
        layout.addWidget(note_label)
        layout.addWidget(self.note)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)

    def people(self) -> tuple[PersonProgress, ...] | None:
        """Whom to remind: None for everyone not passed (the server decides who that is now)."""
        return (self.person,) if self.person and self.only.isChecked() else None

    def show_problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(text)
        self.message.show()
