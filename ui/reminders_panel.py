"""The reminders on the trainee's home: which assignment, from whom, the note, when; Dismiss.

Rendering and dispatch only: the unread reminders come from the cache (app/client/reminders.py),
so they show offline too; a sync that brings one, or a dismissal, announces `notifications`
(ctx.changes) and the panel reads them again. Hidden while there is none.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.client.formatting import ago_text
from app.client.reminders import NOTIFICATIONS, Reminder, RemindersService
from app.client.views import Changes, utc_now
from ui.context import AppContext
from ui.errors import show_error
from ui.widgets.headings import subheading

# What the panel is built from: the reminders, and the names of assignments and senders.
REMINDER_DATA = (NOTIFICATIONS, "assignments", "org_members")


class ReminderRow(QWidget):
    """One reminder: what it is about and from whom, its note, and Dismiss."""

    def __init__(self, reminder: Reminder, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reminder = reminder
        self.setObjectName("reminderRow")
        parts = [f"Reminder: “{reminder.assignment_title}” · from {reminder.sender}"]
        if reminder.sent_at is not None:
            parts.append(ago_text(reminder.sent_at, utc_now()))
        text = " · ".join(parts)
        if reminder.note:
            text += f"\n“{reminder.note}”"
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setAccessibleName(
            f"Dismiss the reminder of {reminder.assignment_title}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.dismiss_button)


class RemindersPanel(QFrame):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("remindersPanel")
        self.service = RemindersService(ctx.backend)
        self.reminders: list[Reminder] = []
        self.rows: list[ReminderRow] = []
        self.title = subheading("Reminders")
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.addWidget(self.title)
        self.hide()
        ctx.changes.changed.connect(self._data_changed)

    def refresh(self) -> None:
        if self.ctx.backend.account is None:
            return
        self.ctx.call(self, self.service.unread, self.show_reminders, on_failure=self._failed)

    def show_reminders(self, reminders: list[Reminder]) -> None:
        self.reminders = reminders
        for row in self.rows:
            self.box.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for reminder in reminders:
            row = ReminderRow(reminder, self)
            row.dismiss_button.clicked.connect(lambda _=False, r=reminder: self.dismiss(r))
            self.box.addWidget(row)
            self.rows.append(row)
        self.setVisible(bool(reminders))

    def dismiss(self, reminder: Reminder) -> None:
        for row in self.rows:
            if row.reminder.id == reminder.id:
                row.dismiss_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.service.mark_read(reminder.id),
            lambda _none: self.refresh(),
            on_failure=self._failed,
        )

    def _data_changed(self, changes: Changes) -> None:
        # Not isVisible(): the panel hides itself when empty, and a new reminder must show.
        parent = self.parentWidget()
        on_screen = parent is None or parent.isVisible()
        if on_screen and self.ctx.backend.account is not None and changes.touch(*REMINDER_DATA):
            self.refresh()

    def _failed(self, error: BaseException) -> None:
        show_error(self, error)
