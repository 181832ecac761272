"""The banner a draft's conflict shows in the library and the editor: someone else saved the
draft before this computer's copy reached the server (app/client/studio.py, DraftConflict).

It says what differs and offers the two ways out; the screen that holds it does the work.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.client.studio import DraftConflict


class ConflictBanner(QFrame):
    keep_mine = Signal(object)  # the DraftConflict
    take_theirs = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("draftConflict")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.conflict: DraftConflict | None = None
        self.heading = QLabel()
        self.heading.setObjectName("subheading")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.keep_button = QPushButton("&Keep mine (save as a copy)")
        self.keep_button.setToolTip("Your version becomes a new draft; theirs stays as it is")
        self.theirs_button = QPushButton("Take t&heirs")
        self.theirs_button.setToolTip("Give up your changes for the version on the server")
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.theirs_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.keep_button.clicked.connect(lambda: self._chosen(self.keep_mine))
        self.theirs_button.clicked.connect(lambda: self._chosen(self.take_theirs))
        self.show_conflict(None)

    def show_conflict(self, conflict: DraftConflict | None) -> None:
        self.conflict = conflict
        self.setVisible(conflict is not None)
        self.set_busy(False)
        if conflict is not None:
            self.heading.setText(f"Conflict: someone else saved “{conflict.title}”")
            self.text.setText(conflict.message)

    def set_busy(self, busy: bool) -> None:
        self.keep_button.setEnabled(not busy)
        self.theirs_button.setEnabled(not busy)

    def _chosen(self, signal: Signal) -> None:
        if self.conflict is not None:
            self.set_busy(True)
            signal.emit(self.conflict)  # type: ignore[attr-defined]
