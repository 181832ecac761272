"""The admin's Studio tab, its library in two tabs. Scenarios: every scenario of the org with
its status, who edited it last and when; import and export scenario files, duplicate, publish,
archive, start a new version, delete a draft. Tracks: ui/studio_tracks.py.

Rendering and dispatch only (app/client/studio.py does the work, off the GUI thread through
ctx.call); Edit… opens a draft in the scenario editor (ui/studio_editor.py). A draft whose copy
kept here lost to someone else's save shows its conflict above the list
(ui/studio/draft_conflict.py), to keep as a copy or give up for theirs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import local_time
from app.client.studio import DraftConflict, LibraryItem, Status, StudioService
from app.scenario_package import SUFFIX
from ui.context import AppContext
from ui.models import Column, RowTableModel
from ui.studio.draft_conflict import ConflictBanner
from ui.studio.library_actions import LibraryActions
from ui.studio_editor import ScenarioEditor
from ui.studio_tracks import TracksPanel, edited_when
from ui.widgets.headings import heading, muted
from ui.widgets.table import make_table

FILE_FILTER = f"Coachdesk scenarios (*{SUFFIX})"
# What the library is built from (app.client.views.Changes names them; the outbox holds the
# drafts' saves the server refused).
LIBRARY_DATA = ("scenarios", "scenario_attempts", "outbox")


class LibraryModel(RowTableModel[LibraryItem]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Scenario", lambda i: i.scenario.title),
                Column("Version", lambda i: f"v{i.scenario.version}", align_right=True),
                Column("Status", lambda i: i.status.value),
                Column("Difficulty", lambda i: i.scenario.difficulty),
                Column("Pass mark", lambda i: f"{i.scenario.pass_score:g}", align_right=True),
                Column("Attempts", lambda i: str(i.attempts), align_right=True),
                Column("Edited by", lambda i: i.edited_by or "–"),
                Column(
                    "Last edited",
                    lambda i: edited_when(i.scenario.updated_at),
                    sort=lambda i: i.scenario.updated_at or "",
                    tooltip=_changed,
                ),
            ]
        )

    def row_key(self, row: LibraryItem) -> str:
        return row.scenario.id


def _changed(item: LibraryItem) -> str | None:
    moment = item.scenario.updated_at
    return local_time(moment) if moment is not None else None


class StudioPane(LibraryActions[LibraryItem], QWidget):
    DRAFT_NAME = "draft"
    DATA = LIBRARY_DATA
    DELETE_BOX = "deleteDraft"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("studioPane")
        self.service = StudioService(ctx.backend)
        self.items: list[LibraryItem] = []
        self.confirm_box: QMessageBox | None = None

        self.title = heading("Library")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search titles and descriptions")
        self.search.setAccessibleName("Search scenarios")
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Status")
        self.status_filter.addItem("All statuses", None)
        for status in Status:
            self.status_filter.addItem(status.value.capitalize(), status)
        self.model = LibraryModel()
        self.table = make_table(self.model, "libraryTable", "Scenarios", stretch=0)
        self.message = muted()
        self.message.setWordWrap(True)
        self.conflict = ConflictBanner()
        self.conflict.keep_mine.connect(self.keep_mine)
        self.conflict.take_theirs.connect(self.take_theirs)
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setToolTip("Edit a draft (duplicate a published scenario to edit it)")
        self.editor: ScenarioEditor | None = None
        self.new_button = QPushButton("&New scenario")
        self.import_button = QPushButton("&Import…")
        self.export_button = QPushButton("E&xport…")
        self.duplicate_button = QPushButton("Dupli&cate")
        self.publish_button = QPushButton("Pu&blish")
        self.archive_button = QPushButton("A&rchive")
        self.version_button = QPushButton("New &version")
        self.version_button.setToolTip("A new draft of this scenario to edit; this one stays")
        self.delete_button = QPushButton("Delete dra&ft…")
        self._selection_buttons = (
            self.edit_button,
            self.export_button,
            self.duplicate_button,
            self.publish_button,
            self.archive_button,
            self.version_button,
            self.delete_button,
        )

        filters = QHBoxLayout()
        search_label = QLabel("Find")  # Ctrl+F, as everywhere: every letter of it is taken
        search_label.setBuddy(self.search)
        find = QShortcut(QKeySequence.StandardKey.Find, self)
        find.activated.connect(self.search.setFocus)
        filters.addWidget(search_label)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
        actions = QHBoxLayout()
        actions.addWidget(self.new_button)
        actions.addWidget(self.import_button)
        for button in self._selection_buttons:
            actions.addWidget(button)
        actions.addStretch(1)
        scenarios = QWidget()
        scenarios.setObjectName("studioScenarios")
        page = QVBoxLayout(scenarios)
        page.addLayout(filters)
        page.addLayout(actions)
        page.addWidget(self.message)
        page.addWidget(self.conflict)
        page.addWidget(self.table, 1)
        self.tracks = TracksPanel(ctx)
        # Two lists, not one mixed table: a scenario and a track have different columns and
        # actions, and an admin works on one kind at a time.
        self.tabs = QTabWidget()
        self.tabs.setObjectName("studioTabs")
        # No mnemonics: every letter of both names is taken on this screen; Ctrl+Tab switches.
        self.tabs.addTab(scenarios, "Scenarios")
        self.tabs.addTab(self.tracks, "Tracks")
        self.tabs.currentChanged.connect(lambda _i: self._refresh_tab())
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)

        self.search.textChanged.connect(lambda _text: self.refresh())
        self.status_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.table.selectionModel().currentRowChanged.connect(self._selected)
        self.new_button.clicked.connect(self.new_scenario)
        self.import_button.clicked.connect(self.import_file)
        self.edit_button.clicked.connect(self.edit_selected)
        self.table.activated.connect(lambda _index: self.edit_selected())
        self.export_button.clicked.connect(self.export_selected)
        self.duplicate_button.clicked.connect(lambda: self._act("duplicate", "Duplicated."))
        self.publish_button.clicked.connect(
            lambda: self._act(
                "publish",
                "Restored." if self._is_archived() else "Published.",
            )
        )
        self.archive_button.clicked.connect(lambda: self._act("archive", "Archived."))
        self.version_button.clicked.connect(lambda: self._act("new_version", "new draft version."))
        self.delete_button.clicked.connect(self.delete_selected)
        ctx.changes.changed.connect(self._data_changed)
        self._selected(QModelIndex())

    # Reading -------------------------------------------------------------------------------
    def subject(self, item: LibraryItem) -> tuple[str, str]:
        return item.scenario.id, item.scenario.title

    def refresh(self) -> None:
        """The scenarios, and the tracks when their tab is the one shown."""
        if self.tabs.currentWidget() is self.tracks:
            self.tracks.refresh()
        self._refresh_scenarios()

    def _refresh_tab(self) -> None:
        if self.tabs.currentWidget() is self.tracks:
            self.tracks.refresh()

    def _refresh_scenarios(self) -> None:
        search, status = self.search.text(), self.status_filter.currentData()

        def read() -> tuple[list[LibraryItem], list[DraftConflict]]:
            return self.service.library(search, status), self.service.conflicts()

        self.ctx.call(self, read, self.show_library, on_failure=self._say)

    def show_library(self, found: tuple[list[LibraryItem], list[DraftConflict]]) -> None:
        items, conflicts = found
        self.conflict.show_conflict(conflicts[0] if conflicts else None)
        self.show_items(items)

    def _selected(self, _index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        item = self.selected()
        status = item.status if item else None
        self.edit_button.setEnabled(status is Status.DRAFT)
        self.export_button.setEnabled(item is not None)
        self.duplicate_button.setEnabled(item is not None)
        # An archived version can go live again; a live one gets a new version to edit.
        self.publish_button.setEnabled(status in (Status.DRAFT, Status.ARCHIVED))
        # Publishing an archived version is its restore: it goes live again, superseding
        # whichever version is live now.
        restoring = status is Status.ARCHIVED
        # Alt+R as Archive's, which is disabled whenever this reads Restore.
        self.publish_button.setText("Resto&re" if restoring else "Pu&blish")
        self.publish_button.setToolTip(
            "Put this archived version live again (it replaces the live one)"
            if restoring
            else "Make this draft the live version trainees practise"
        )
        self.archive_button.setEnabled(status is Status.PUBLISHED)
        self.version_button.setEnabled(status in (Status.PUBLISHED, Status.ARCHIVED))
        self.delete_button.setEnabled(item is not None and item.deletable)

    def _is_archived(self) -> bool:
        item = self.selected()
        return item is not None and item.status is Status.ARCHIVED

    # Acting --------------------------------------------------------------------------------
    def new_scenario(self) -> None:
        """A blank draft, opened in the editor as soon as the library lists it."""
        self._create_then_edit(
            self.service.create_blank, "Creating the draft…", "New draft: build it in the editor."
        )

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a scenario", "", FILE_FILTER)
        if not path:
            return
        self.ctx.call(
            self,
            lambda: self.service.import_file(Path(path)),
            lambda _id: self._say_then_refresh(f"Imported {Path(path).name} as a draft."),
            label="Importing the scenario…",
            on_failure=self._say,
        )

    def edit_selected(self) -> ScenarioEditor | None:
        item = self.selected()
        if item is None or item.status is not Status.DRAFT:
            return None
        self.editor = ScenarioEditor(self.ctx, item.scenario, self)
        self.editor.saved.connect(lambda _id: self._say_then_refresh("Draft saved."))
        self.editor.resolved.connect(self._say_then_refresh)
        self.editor.open()
        return self.editor

    def export_selected(self) -> None:
        item = self.selected()
        if item is None:
            return
        suggested = f"{item.scenario.slug}{SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self, "Export the scenario", suggested, FILE_FILTER)
        if not path:
            return
        self.ctx.call(
            self,
            lambda: self.service.export_file(item.scenario.id, Path(path)),
            lambda written: self.message.setText(f"Exported to {written}."),
            label="Exporting the scenario…",
            on_failure=self._say,
        )

    def keep_mine(self, conflict: DraftConflict) -> None:
        self.ctx.call(
            self,
            lambda: self.service.keep_mine(conflict),
            lambda _id: self._say_then_refresh(
                f"Your version of “{conflict.title}” is kept as a new draft, “… (my copy)”."
            ),
            label="Saving your copy…",
            on_failure=self._conflict_failed,
        )

    def take_theirs(self, conflict: DraftConflict) -> None:
        self.ctx.call(
            self,
            lambda: self.service.take_theirs(conflict),
            lambda _none: self._say_then_refresh(f"“{conflict.title}” is theirs again."),
            label="Taking their version…",
            on_failure=self._conflict_failed,
        )

    def _conflict_failed(self, error: BaseException) -> None:
        self.conflict.set_busy(False)
        self._say(error)
