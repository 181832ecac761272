"""The track editor (admins): title, description, and the track's scenarios in order — drag a
row to move it, or Move up / Move down (Alt+Up / Alt+Down) — added from the org's scenarios and
removed; Save, Publish, Archive, Restore.

Rendering and dispatch only: app/client/studio_tracks.py saves (the order in one transaction)
and the database says what a published track may list.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.studio import Status
from app.client.studio_tracks import TrackItem, TrackStudio
from app.client.views import Scenario
from ui.context import AppContext
from ui.errors import plain_message
from ui.widgets.headings import muted

ID_ROLE = Qt.ItemDataRole.UserRole


def _label(scenario: Scenario) -> str:
    return f"{scenario.title} (v{scenario.version}, {scenario.status})"


class TrackEditor(QDialog):
    """`saved(track_id)` after every save or change of status."""

    saved = Signal(str)

    def __init__(self, ctx: AppContext, item: TrackItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.item = item
        self.service = TrackStudio(ctx.backend)
        self.setObjectName("trackEditor")
        self.setWindowTitle(f"Track: {item.track.title}")
        self.resize(640, 560)

        self.title = QLineEdit(item.track.title)
        self.title.setMaxLength(200)
        self.description = QPlainTextEdit(item.track.description)
        self.description.setFixedHeight(70)
        self.order = QListWidget()
        self.order.setObjectName("trackOrder")
        self.order.setAccessibleName("Scenarios in order")
        self.order.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.order.setDefaultDropAction(Qt.DropAction.MoveAction)
        for scenario in item.scenarios:
            self._append(scenario)
        self.up_button = QPushButton("Move &up")
        self.up_button.setToolTip("Alt+Up")
        self.down_button = QPushButton("Move &down")
        self.down_button.setToolTip("Alt+Down")
        self.remove_button = QPushButton("Re&move")
        self.candidates = QComboBox()
        self.candidates.setAccessibleName("Scenario to add")
        self.add_button = QPushButton("&Add")
        self.message = muted()
        self.message.setWordWrap(True)
        self.status_label = QLabel()
        self.save_button = QPushButton("&Save")
        self.publish_button = QPushButton("Pu&blish")
        self.archive_button = QPushButton("A&rchive")
        self.restore_button = QPushButton("Rest&ore")
        self.close_button = QPushButton("Close")

        form = QFormLayout()
        form.addRow("&Title", self.title)
        form.addRow("D&escription", self.description)
        moves = QVBoxLayout()
        for button in (self.up_button, self.down_button, self.remove_button):
            moves.addWidget(button)
        moves.addStretch(1)
        listing = QHBoxLayout()
        listing.addWidget(self.order, 1)
        listing.addLayout(moves)
        adding = QHBoxLayout()
        adding.addWidget(self.candidates, 1)
        adding.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label)
        buttons.addStretch(1)
        for button in (
            self.save_button,
            self.publish_button,
            self.archive_button,
            self.restore_button,
            self.close_button,
        ):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        order_label = QLabel("Scenarios, in the order trainees take them (drag to reorder)")
        order_label.setBuddy(self.order)
        layout.addWidget(order_label)
        layout.addLayout(listing, 1)
        layout.addLayout(adding)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        QShortcut(QKeySequence("Alt+Up"), self, self.move_up)
        QShortcut(QKeySequence("Alt+Down"), self, self.move_down)
        self.up_button.clicked.connect(self.move_up)
        self.down_button.clicked.connect(self.move_down)
        self.remove_button.clicked.connect(self.remove_selected)
        self.add_button.clicked.connect(self.add_selected)
        self.save_button.clicked.connect(self.save)
        self.publish_button.clicked.connect(lambda: self._save_then("publish", "Published."))
        self.archive_button.clicked.connect(lambda: self._status("archive", "Archived."))
        self.restore_button.clicked.connect(lambda: self._save_then("restore", "Live again."))
        self.close_button.clicked.connect(self.accept)
        self.order.currentRowChanged.connect(lambda _row: self._enable())
        self.order.model().rowsMoved.connect(lambda *_args: self._enable())
        self._show_status(item.status)
        self._load_candidates()

    # The list ------------------------------------------------------------------------------
    def scenario_ids(self) -> list[str]:
        return [str(self.order.item(i).data(ID_ROLE)) for i in range(self.order.count())]

    def move_up(self) -> None:
        self._move(-1)

    def move_down(self) -> None:
        self._move(1)

    def remove_selected(self) -> None:
        row = self.order.currentRow()
        if row >= 0:
            self.order.takeItem(row)
            self._enable()

    def add_selected(self) -> None:
        scenario = self.candidates.currentData()
        if scenario is None or scenario.id in self.scenario_ids():
            return
        self._append(scenario)
        self.order.setCurrentRow(self.order.count() - 1)
        self._enable()

    def _move(self, step: int) -> None:
        row = self.order.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.order.count():
            return
        item = self.order.takeItem(row)
        self.order.insertItem(target, item)
        self.order.setCurrentRow(target)

    def _append(self, scenario: Scenario) -> None:
        entry = QListWidgetItem(_label(scenario))
        entry.setData(ID_ROLE, scenario.id)
        self.order.addItem(entry)

    def _load_candidates(self) -> None:
        def shown(scenarios: list[Scenario]) -> None:
            self.candidates.clear()
            for scenario in scenarios:
                self.candidates.addItem(_label(scenario), scenario)
            self._enable()

        self.ctx.call(self, self.service.candidates, shown, on_failure=self._say)

    # Saving --------------------------------------------------------------------------------
    def save(self) -> None:
        self._save_then(None, "Saved.")

    def _save_then(self, action: str | None, done: str) -> None:
        track_id = self.item.track.id
        title, description = self.title.text(), self.description.toPlainText()
        ids = self.scenario_ids()

        def work() -> None:
            self.service.save(track_id, title, description, ids)
            if action is not None:
                getattr(self.service, action)(track_id)

        status = {"publish": Status.PUBLISHED, "restore": Status.PUBLISHED}.get(action or "")
        self.ctx.call(
            self,
            work,
            lambda _none: self._done(done, status),
            label="Saving the track…",
            on_failure=self._say,
        )

    def _status(self, action: str, done: str) -> None:
        track_id = self.item.track.id
        self.ctx.call(
            self,
            lambda: getattr(self.service, action)(track_id),
            lambda _none: self._done(done, Status.ARCHIVED),
            label="Saving the track…",
            on_failure=self._say,
        )

    def _done(self, text: str, status: Status | None) -> None:
        self.message.setText(text)
        if status is not None:
            self._show_status(status)
        self.saved.emit(self.item.track.id)

    def _show_status(self, status: Status) -> None:
        self.status = status
        self.status_label.setText(f"Status: {status.value}")
        self._enable()

    def _enable(self) -> None:
        row, count = self.order.currentRow(), self.order.count()
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < count - 1)
        self.remove_button.setEnabled(row >= 0)
        self.add_button.setEnabled(self.candidates.count() > 0)
        self.publish_button.setEnabled(self.status is Status.DRAFT)
        self.archive_button.setEnabled(self.status is Status.PUBLISHED)
        self.restore_button.setEnabled(self.status is Status.ARCHIVED)

    def _say(self, error: BaseException) -> None:
        self.message.setText(plain_message(error))
