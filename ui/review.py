"""Review of one attempt: transcript with speakers, playback (click a turn to hear it), KPI cards
against their ideal ranges, the rubric breakdown and score, and where the attempt is in sync.

The same screen serves a trainee's own attempt (recording on this computer, or fetched) and a
manager's review of anyone's (fetched through a signed URL from `grant_signed_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QListView,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sync.rows import number as as_decimal
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.formatting import clock, local_time, score_text
from ui.kpi_display import KpiReading, readings
from ui.models import ROW_ROLE, Column, RowTableModel, TranscriptModel, transcript_turns
from ui.services import AttemptDetail, AttemptRow, SyncState
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.kpi_card import KpiCard
from ui.widgets.playback_bar import PlaybackBar, PlayerFactory, PlayerLike, default_player
from ui.widgets.table import fit_rows, make_table

log = structlog.get_logger(__name__)

KPI_COLUMNS = 3

Criterion = Mapping[str, Any]


class BreakdownModel(RowTableModel[Criterion]):
    """The rubric's criteria as the server (or this computer, provisionally) scored them."""

    def __init__(self) -> None:
        super().__init__(
            [
                Column("Criterion", lambda c: str(c.get("label") or c.get("id") or "")),
                Column("Weight", lambda c: _weight(c.get("weight")), align_right=True),
                Column(
                    "Score",
                    lambda c: score_text(as_decimal(c.get("score"))),
                    sort=lambda c: as_decimal(c.get("score")),
                    align_right=True,
                ),
                Column(
                    "Why",
                    lambda c: str(c.get("detail") or ""),
                    tooltip=lambda c: str(c.get("detail") or ""),
                ),
            ]
        )


def _weight(value: object) -> str:
    weight = as_decimal(value)
    return "–" if weight is None else f"{(weight * 100).normalize():f} %"


def _recording_of(detail: AttemptDetail) -> Path | str | None:
    """What the player plays: the file on this computer while it is here (uploading it changes
    nothing to listen to), else the server's copy."""
    return detail.local_recording or detail.recording_path


class ReviewScreen(QWidget):
    back = Signal()

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        player_factory: PlayerFactory = default_player,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("reviewScreen")
        self.detail: AttemptDetail | None = None
        self._player_factory = player_factory
        self._readings: list[KpiReading] = []  # what the KPI cards show

        self.back_button = QPushButton("← &Back")
        self.back_button.setToolTip("Back (Esc)")
        self.title = heading()
        self.meta = muted()
        self.score = heading()
        self.score.setObjectName("bigNumber")
        self.score.setAccessibleName("Score")
        self.verdict = muted()
        self.sync_state = muted()
        self.sync_state.setObjectName("attemptSyncState")
        self.sync_state.setWordWrap(False)
        self.verdict.setWordWrap(False)
        self.upload_button = QPushButton("&Upload")
        self.upload_button.setObjectName("uploadAttempt")
        self.upload_button.setToolTip(
            "Send this call's recording and transcript to the server, which then scores it "
            "(your organisation keeps calls on this computer until you do)"
        )
        self.upload_button.hide()

        self.transcript = TranscriptModel()
        self.transcript_view = QListView()
        self.transcript_view.setObjectName("transcriptView")
        self.transcript_view.setAccessibleName("Transcript: select a turn to play it")
        self.transcript_view.setModel(self.transcript)
        self.transcript_view.setWordWrap(True)
        self.transcript_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.transcript_view.setAlternatingRowColors(True)
        self.playback = PlaybackBar()

        self.kpi_grid = QGridLayout()
        self.kpi_grid.setSpacing(8)
        self.breakdown = BreakdownModel()
        self.breakdown_table = make_table(self.breakdown, "breakdownTable", "Rubric breakdown")

        header = QHBoxLayout()
        header.addWidget(self.back_button)
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.meta)
        header.addLayout(titles, 1)
        scores = QVBoxLayout()
        scores.addWidget(self.score, alignment=Qt.AlignmentFlag.AlignRight)
        scores.addWidget(self.verdict, alignment=Qt.AlignmentFlag.AlignRight)
        scores.addWidget(self.sync_state, alignment=Qt.AlignmentFlag.AlignRight)
        scores.addWidget(self.upload_button, alignment=Qt.AlignmentFlag.AlignRight)
        header.addLayout(scores)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(subheading("Transcript"))
        left_layout.addWidget(self.transcript_view, 1)
        left_layout.addWidget(self.playback)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(subheading("Rubric"))
        right_layout.addWidget(self.breakdown_table)
        right_layout.addWidget(subheading("Conversation KPIs"))
        right_layout.addLayout(self.kpi_grid)
        right_layout.addStretch()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(right)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

        self.back_button.clicked.connect(self._leave)
        self.upload_button.clicked.connect(self.upload)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._leave)
        QShortcut(QKeySequence("Ctrl+Space"), self, self.playback.toggle)
        self.transcript_view.clicked.connect(self.play_turn)
        self.transcript_view.activated.connect(self.play_turn)
        self.playback.position_changed.connect(self._follow)

    # Loading ------------------------------------------------------------------------------
    def open_attempt(self, attempt_id: str) -> None:
        self.playback.set_player(None, "Loading…")
        self.ctx.call(
            self,
            lambda: self.ctx.backend.attempt(attempt_id),
            self.show_detail,
            label="Opening the review…",
            on_failure=lambda error: show_error(self, error),
        )

    def show_detail(self, detail: AttemptDetail, *, refresh: bool = False) -> None:
        """Show `detail`. A refresh of the attempt shown (a sync brought news) changes only what
        changed: the KPI cards are rebuilt and the recording reopened only when theirs did, so
        a sync never interrupts playback or lays the page out again for nothing."""
        before = self.detail if refresh and self.detail is not None else None
        if before is not None and before.row.id != detail.row.id:
            before = None
        self.detail = detail
        row = detail.row
        self.title.setText(row.scenario_title)
        who = f"{row.person} · " if row.person and row.user_id != self._my_id() else ""
        self.meta.setText(f"{who}{local_time(row.started_at)} · {clock(row.duration_seconds)}")
        self.score.setText(score_text(row.score, provisional=row.provisional))
        passed = (detail.breakdown or {}).get("passed")
        self.verdict.setText("" if passed is None else ("Passed" if passed else "Not passed yet"))
        state = row.sync_state.label + (f": {detail.rejection}" if detail.rejection else "")
        self.sync_state.setText(state)
        self.upload_button.setVisible(row.sync_state is SyncState.HELD)
        self.upload_button.setEnabled(True)
        self.transcript.set_turns(transcript_turns(detail.transcript), detail.persona_name)
        shown = readings(detail.kpis, detail.rubric)
        if before is None or shown != self._readings:
            self._show_kpis(shown)
        if before is None or before.breakdown != detail.breakdown:
            self.breakdown.set_rows(list((detail.breakdown or {}).get("criteria", [])))
            fit_rows(self.breakdown_table)
        if before is None or _recording_of(before) != _recording_of(detail):
            self._load_recording(detail)

    def refresh_if_showing(self, attempt_id: str) -> None:
        """Re-read the attempt shown, quietly (no progress, no dialog: nobody asked)."""
        if self.detail is None or self.detail.row.id != attempt_id:
            return
        self.ctx.call(
            self,
            lambda: self.ctx.backend.attempt(attempt_id),
            lambda detail: self.show_detail(detail, refresh=True),
            on_failure=lambda error: log.info("review refresh failed", reason=str(error)),
        )

    def _show_kpis(self, shown: list[KpiReading]) -> None:
        """One card per reading; compared as shown (Decimals), so the server's KPIs replacing
        equal provisional ones (floats from JSON) leave the cards alone."""
        self._readings = shown
        while self.kpi_grid.count():
            item = self.kpi_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for i, reading in enumerate(shown):
            card = KpiCard(reading, self.ctx.theme.colors)
            self.kpi_grid.addWidget(card, i // KPI_COLUMNS, i % KPI_COLUMNS)

    def _load_recording(self, detail: AttemptDetail) -> None:
        if detail.local_recording is None and detail.recording_path is None:
            self.playback.set_player(None, "No recording for this attempt.")
            return
        self.ctx.call(
            self,
            lambda: self.ctx.backend.recording_for_playback(detail),
            self._open_player,
            on_failure=self._recording_failed,
        )

    def _open_player(self, path: Path) -> None:
        self.ctx.compute(
            self,
            lambda _task: self._player_factory(path),
            self._player_ready,
            label="Preparing playback…",
            cancellable=False,
            on_failure=self._recording_failed,
        )

    def _player_ready(self, player: PlayerLike) -> None:
        if self.isVisible() or self.detail is not None:
            self.playback.set_player(player)
        else:
            player.close()

    def _recording_failed(self, error: BaseException) -> None:
        self.playback.set_player(None, plain_message(error))

    # Interaction --------------------------------------------------------------------------
    def play_turn(self, index: QModelIndex) -> None:
        turn = index.data(ROW_ROLE)
        if turn is not None:
            self.playback.seek(turn.start, play=True)

    def upload(self) -> None:
        """Send the call kept on this computer (upload = "manual")."""
        if self.detail is None or self.detail.row.sync_state is not SyncState.HELD:
            return
        attempt_id = self.detail.row.id
        self.upload_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.ctx.backend.upload_attempt(attempt_id),
            self._uploaded,
            label="Queueing the upload…",
            on_failure=self._upload_failed,
        )

    def _uploaded(self, row: AttemptRow) -> None:
        self.sync_state.setText(row.sync_state.label)
        self.upload_button.setVisible(row.sync_state is SyncState.HELD)
        self.refresh_if_showing(row.id)

    def _upload_failed(self, error: BaseException) -> None:
        self.upload_button.setEnabled(True)
        show_error(self, error)

    def _follow(self, seconds: float) -> None:
        """Keep the turn being heard selected while playing."""
        player = self.playback.player
        if player is None or not player.playing:
            return
        for row, turn in enumerate(self.transcript.turns):
            if turn.start <= seconds <= max(turn.end, turn.start + 0.05):
                index = self.transcript.index(row)
                if self.transcript_view.currentIndex() != index:
                    self.transcript_view.setCurrentIndex(index)
                return

    def _leave(self) -> None:
        self.playback.close_player()
        self.back.emit()

    def _my_id(self) -> str | None:
        account = self.ctx.backend.account
        return account.user_id if account else None
