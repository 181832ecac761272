"""The scenario editor's Briefing tab: the PDFs and images a trainee reads before the call —
attach, remove, open. Changes go to the server at once (app/client/briefings.py), whatever
state the rest of the draft is in.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton, QVBoxLayout, QWidget

from app.client.briefings import Briefing
from app.client.views import Scenario
from app.scenario_package import MAX_ATTACHMENT_BYTES, TYPES
from ui.context import AppContext
from ui.widgets.briefing_list import BriefingList
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import muted

FILE_FILTER = f"PDFs and images ({' '.join(f'*{suffix}' for suffix in TYPES)})"


class BriefingsEditor(QWidget):
    def __init__(self, ctx: AppContext, scenario: Scenario, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("briefingsEditor")
        self.ctx = ctx
        self.scenario = scenario
        self.confirm_box: QMessageBox | None = None
        self.intro = muted(
            "Trainees see these files before the call (“Read before the call”). PDFs and images "
            f"(PNG, JPEG, WebP, GIF), at most {MAX_ATTACHMENT_BYTES // 2**20} MB each."
        )
        self.files = BriefingList(ctx, scenario, self)
        self.attach_button = QPushButton("&Attach…")
        self.remove_button = QPushButton("Re&move…")
        self.files.buttons.insertWidget(0, self.attach_button)
        self.files.buttons.insertWidget(1, self.remove_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.files, 1)

        self.attach_button.clicked.connect(self.choose_file)
        self.remove_button.clicked.connect(self.remove_selected)
        self.files.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.files.loaded.connect(lambda _rows: self._selected())
        self._selected()
        self.files.refresh()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach a briefing", "", FILE_FILTER)
        if path:
            self.attach(Path(path))

    def attach(self, path: Path) -> None:
        self.files.message.setText(f"Attaching {path.name}…")
        self.ctx.call(
            self,
            lambda: self.files.service.attach(self.scenario, path),
            self._attached,
            label=f"Uploading {path.name}…",
            on_failure=self.files.say,
        )

    def remove_selected(self) -> None:
        briefing = self.files.selected()
        if briefing is None:
            return
        self.confirm_box = confirm_destructive(
            self,
            name="removeBriefing",
            title="Remove attachment",
            text=f"Remove “{briefing.name}” from this scenario? Trainees will no longer see it.",
            action="Remove",
            on_confirm=lambda: self.remove(briefing),
        )

    def remove(self, briefing: Briefing) -> None:
        self.ctx.call(
            self,
            lambda: self.files.service.remove(self.scenario, briefing.name),
            lambda _none: self._done(f"Removed {briefing.name}."),
            on_failure=self.files.say,
        )

    def _attached(self, briefing: Briefing) -> None:
        self._done(f"Attached {briefing.name} ({briefing.size_text}).")

    def _done(self, text: str) -> None:
        self.files.refresh(lambda _rows: self.files.message.setText(text))

    def _selected(self) -> None:
        self.remove_button.setEnabled(self.files.selected() is not None)
