"""The main window's status bar: sync state, a "Sync now" button, and running work's progress.

It is the app's `ProgressSink` (ui/workers.py): every background operation that asks for
progress shows a bar and, when it can be cancelled, a Cancel button here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from app.client.views import SyncStatus


class AppStatusBar(QStatusBar):
    sync_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sync_label = QLabel("Not signed in")
        self.sync_label.setObjectName("syncState")
        self.sync_label.setAccessibleName("Sync state")
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setToolTip("Send waiting practice calls and fetch scores (F5)")
        self.sync_button.clicked.connect(self.sync_requested)
        self.work_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_newest)
        self.addWidget(self.work_label)
        self.addWidget(self.progress)
        self.addWidget(self.cancel_button)
        self.addPermanentWidget(self.sync_label)
        self.addPermanentWidget(self.sync_button)
        self._ids = itertools.count(1)
        self._running: dict[int, tuple[str, Callable[[], None] | None]] = {}
        self._show_running()

    def show_sync(self, status: SyncStatus) -> None:
        self.sync_label.setText(status.text)
        self.sync_label.setToolTip(status.message or status.text)

    # ProgressSink -------------------------------------------------------------------------
    def begin(self, label: str, cancel: Callable[[], None] | None) -> object:
        token = next(self._ids)
        self._running[token] = (label, cancel)
        self.progress.setRange(0, 0)  # busy until the first report
        self._show_running()
        return token

    def update(self, token: object, fraction: float, text: str) -> None:
        if token not in self._running or token != max(self._running):
            return
        if fraction < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        if text:
            self.work_label.setText(text)

    def end(self, token: object) -> None:
        self._running.pop(token, None)  # type: ignore[call-overload]
        self._show_running()

    def _show_running(self) -> None:
        """Show the newest running operation; hide the bar when nothing runs."""
        if not self._running:
            for widget in (self.work_label, self.progress, self.cancel_button):
                widget.hide()
            return
        label, cancel = self._running[max(self._running)]
        self.work_label.setText(label)
        self.work_label.show()
        self.progress.show()
        self.cancel_button.setVisible(cancel is not None)

    def _cancel_newest(self) -> None:
        if self._running:
            label, cancel = self._running[max(self._running)]
            if cancel is not None:
                self.work_label.setText(f"{label} cancelling…")
                cancel()

    @property
    def running_labels(self) -> list[str]:
        return [label for label, _ in self._running.values()]
