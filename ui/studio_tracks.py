"""The Studio's Tracks tab: every track of the org with its status, how many scenarios it lists,
who edited it last and when; New track, Edit… (the track editor), Publish, Archive, Restore,
Delete draft.

Rendering and dispatch only (app/client/studio_tracks.py does the work off the GUI thread).
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import ago, local_time
from app.client.studio import Status
from app.client.studio_tracks import TrackItem, TrackStudio
from app.client.views import utc_now
from ui.context import AppContext
from ui.models import Column, RowTableModel
from ui.studio.library_actions import LibraryActions
from ui.track_editor import TrackEditor
from ui.widgets.headings import muted
from ui.widgets.table import make_table

# What the list is built from (app.client.views.Changes names them).
TRACK_DATA = ("tracks", "track_scenarios", "scenarios", "org_members")


def edited_when(moment: datetime | None) -> str:
    """When a scenario or track was last changed, relative ("5 min ago")."""
    return ago(moment, utc_now()) if moment is not None else "not sent yet"


class TrackModel(RowTableModel[TrackItem]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Track", lambda i: i.track.title),
                Column("Status", lambda i: i.status.value),
                Column("Scenarios", lambda i: str(len(i.scenarios)), align_right=True),
                Column("Edited by", lambda i: i.edited_by or "–"),
                Column(
                    "Last edited",
                    lambda i: edited_when(i.track.updated_at),
                    sort=lambda i: i.track.updated_at or "",
                    tooltip=lambda i: (
                        local_time(i.track.updated_at) if i.track.updated_at else None
                    ),
                ),
            ]
        )

    def row_key(self, row: TrackItem) -> str:
        return row.track.id


class TracksPanel(LibraryActions[TrackItem], QWidget):
    DRAFT_NAME = "draft track"
    DATA = TRACK_DATA
    DELETE_BOX = "deleteTrack"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("studioTracks")
        self.service = TrackStudio(ctx.backend)
        self.items: list[TrackItem] = []
        self.editor: TrackEditor | None = None
        self.confirm_box: QMessageBox | None = None

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search track titles and descriptions")
        self.search.setAccessibleName("Search tracks")
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Track status")
        self.status_filter.addItem("All statuses", None)
        for status in Status:
            self.status_filter.addItem(status.value.capitalize(), status)
        self.model = TrackModel()
        self.table = make_table(self.model, "trackTable", "Tracks", stretch=0)
        self.message = muted()
        self.message.setWordWrap(True)
        self.new_button = QPushButton("&New track")
        self.edit_button = QPushButton("&Edit…")
        self.publish_button = QPushButton("Pu&blish")
        self.archive_button = QPushButton("A&rchive")
        # No mnemonic: Alt+S is Settings', Alt+O Sign out's, the other letters this screen's.
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("An archived track live again")
        self.delete_button = QPushButton("Delete dra&ft…")

        filters = QHBoxLayout()
        search_label = QLabel("Find")
        search_label.setBuddy(self.search)
        filters.addWidget(search_label)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
        actions = QHBoxLayout()
        for button in (
            self.new_button,
            self.edit_button,
            self.publish_button,
            self.archive_button,
            self.restore_button,
            self.delete_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

        self.search.textChanged.connect(lambda _text: self.refresh())
        self.status_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.table.selectionModel().currentRowChanged.connect(self._selected)
        self.table.activated.connect(lambda _index: self.edit_selected())
        self.new_button.clicked.connect(self.new_track)
        self.edit_button.clicked.connect(self.edit_selected)
        self.publish_button.clicked.connect(lambda: self._act("publish", "Published."))
        self.archive_button.clicked.connect(lambda: self._act("archive", "Archived."))
        self.restore_button.clicked.connect(lambda: self._act("restore", "Live again."))
        self.delete_button.clicked.connect(self.delete_selected)
        ctx.changes.changed.connect(self._data_changed)
        self._selected(QModelIndex())

    # Reading -------------------------------------------------------------------------------
    def subject(self, item: TrackItem) -> tuple[str, str]:
        return item.track.id, item.track.title

    def refresh(self) -> None:
        search, status = self.search.text(), self.status_filter.currentData()
        self.ctx.call(
            self, lambda: self.service.tracks(search, status), self.show_items, on_failure=self._say
        )

    def _selected(self, _index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        item = self.selected()
        status = item.status if item else None
        self.edit_button.setEnabled(item is not None)
        self.publish_button.setEnabled(status is Status.DRAFT)
        self.archive_button.setEnabled(status is Status.PUBLISHED)
        self.restore_button.setEnabled(status is Status.ARCHIVED)
        self.delete_button.setEnabled(item is not None and item.deletable)

    # Acting --------------------------------------------------------------------------------
    def new_track(self) -> None:
        """A draft track, opened in the editor as soon as the list shows it."""
        self._create_then_edit(
            self.service.create,
            "Creating the track…",
            "New draft track: add its scenarios in the editor.",
        )

    def edit_selected(self) -> TrackEditor | None:
        item = self.selected()
        if item is None:
            return None
        self.editor = TrackEditor(self.ctx, item, self)
        self.editor.saved.connect(lambda _id: self.refresh())
        self.editor.open()
        return self.editor
