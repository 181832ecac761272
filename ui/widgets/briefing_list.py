"""A scenario's briefing attachments as a table with Open: what the studio's Briefing tab and
the trainee's "Read before the call" dialog both show.

Open downloads the file through a signed URL off the GUI thread (app/client/briefings.py) into
a private temporary folder and hands it to the system's viewer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from app.client.briefings import Briefing, BriefingsService
from app.client.views import Scenario
from ui.context import AppContext
from ui.errors import plain_message
from ui.models import Column, RowTableModel
from ui.widgets.headings import muted
from ui.widgets.table import make_table


class BriefingsModel(RowTableModel[Briefing]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("File", lambda b: b.name),
                Column("Kind", lambda b: b.kind),
                Column("Size", lambda b: b.size_text, sort=lambda b: b.size, align_right=True),
            ]
        )

    def row_key(self, row: Briefing) -> str:
        return row.name


class BriefingList(QWidget):
    """The attachments of `scenario`; `loaded` is emitted with them after each refresh."""

    loaded = Signal(list)
    opened = Signal(str)  # the local path handed to the viewer

    def __init__(self, ctx: AppContext, scenario: Scenario, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.scenario = scenario
        self.service = BriefingsService(ctx.backend)
        self._folder: Path | None = None
        self.model = BriefingsModel()
        self.table = make_table(self.model, "briefingsTable", "Briefing attachments", stretch=0)
        self.message = muted()
        self.open_button = QPushButton("&Open")
        self.open_button.setToolTip("Open the file in this computer's viewer")
        self.buttons = QHBoxLayout()  # the admin's editor adds Attach… and Remove… here
        self.buttons.addWidget(self.open_button)
        self.buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(self.buttons)
        layout.addWidget(self.message)

        self.open_button.clicked.connect(self.open_selected)
        self.table.activated.connect(lambda _index: self.open_selected())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self._selected()

    def refresh(
        self,
        then: Callable[[list[Briefing]], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Read the list again; `then` gets it once shown, `on_failure` the error (default:
        said under the table)."""

        def show(briefings: list[Briefing]) -> None:
            self.model.set_rows(briefings)
            if briefings and not self.table.currentIndex().isValid():
                self.table.selectRow(0)
            self._selected()
            self.loaded.emit(briefings)
            if then is not None:
                then(briefings)

        self.ctx.call(
            self,
            lambda: self.service.list(self.scenario),
            show,
            on_failure=on_failure or self.say,
        )

    def selected(self) -> Briefing | None:
        index: QModelIndex = self.table.currentIndex()
        rows = self.model.rows
        return rows[index.row()] if index.isValid() and index.row() < len(rows) else None

    def open_selected(self) -> None:
        briefing = self.selected()
        if briefing is None:
            return
        folder = self._download_folder()
        self.message.setText(f"Opening {briefing.name}…")
        self.ctx.call(
            self,
            lambda: self.service.fetch(self.scenario, briefing.name, folder),
            self._show,
            label=f"Downloading {briefing.name}…",
            on_failure=self.say,
        )

    def say(self, error: BaseException) -> None:
        self.message.setText(plain_message(error))

    def _show(self, path: Path) -> None:
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.message.setText(f"Opened {path.name}.")
        else:
            self.message.setText(f"No viewer opened {path.name}; it is saved at {path}.")
        self.opened.emit(str(path))

    def _selected(self) -> None:
        self.open_button.setEnabled(self.selected() is not None)

    def _download_folder(self) -> Path:
        # One private folder (mode 0700) per list: org content is not left readable to others.
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="coachdesk-briefing-"))
        return self._folder
