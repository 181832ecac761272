"""Review of one attempt: transcript with speakers, playback (click a turn to hear it), KPI cards
against their ideal ranges, the rubric breakdown and score against the pass mark, the previous
attempt of the scenario beside this one, and where the attempt is in sync. From here the rep
practises the scenario again, saves a copy of their recording, or (upload = "manual") uploads.

One call length everywhere (header, player, the Call length card): the call's timeline as the
transcript has it (the call_duration_seconds KPI, which the recording and the turns' times
follow), else the attempt's start-to-end time; always m:ss.

The same screen serves a trainee's own attempt (recording on this computer, or fetched) and a
manager's review of anyone's (fetched through a signed URL from `grant_signed_url`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QListView,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import clock, local_time, number, score_text
from app.client.kpi_display import KpiReading, readings
from app.client.views import OUTBOX, AttemptDetail, AttemptRow, Changes, Scenario, SyncState
from sync.rows import number as as_decimal
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.models import ROW_ROLE, Column, RowTableModel, TranscriptModel, transcript_turns
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.kpi_card import KpiCard
from ui.widgets.playback_bar import PlaybackBar, PlayerFactory, PlayerLike, default_player
from ui.widgets.table import fit_rows, make_table

log = structlog.get_logger(__name__)

KPI_COLUMNS = 3
# What the review shows comes from these (app.client.views.Changes names them).
REVIEW_DATA = ("scenario_attempts", "scenarios", OUTBOX)

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


def call_length(detail: AttemptDetail) -> Decimal | None:
    """The call's length as every part of the review shows it (see the module docstring)."""
    measured = as_decimal(detail.kpis.get("call_duration_seconds"))
    return measured if measured is not None else detail.row.duration_seconds


def verdict_text(detail: AttemptDetail) -> str:
    """ "Passed · pass mark 70", "Not passed yet · pass mark 70", or the pass mark alone."""
    breakdown = detail.breakdown or {}
    mark = as_decimal(breakdown.get("pass_score"))
    mark = detail.pass_score if mark is None else mark
    parts = []
    passed = breakdown.get("passed")
    if passed is not None:
        parts.append("Passed" if passed else "Not passed yet")
    if mark is not None:
        parts.append(f"pass mark {number(mark)}")
    text = " · ".join(parts)
    return text[:1].upper() + text[1:]


def previous_text(detail: AttemptDetail) -> str:
    previous = detail.previous
    if previous is None:
        return "First attempt of this scenario"
    score = score_text(previous.score, provisional=previous.provisional)
    return f"Previous attempt ({local_time(previous.started_at)}): {score}"


SaveDialog = Callable[[QWidget, str], Path | None]


def ask_where_to_save(parent: QWidget, suggested: str) -> Path | None:
    """The system's save dialog; None when the user cancels."""
    name, _filter = QFileDialog.getSaveFileName(
        parent, "Save a copy of the recording", suggested, "Audio (*.flac *.wav *.ogg *.mp3)"
    )
    return Path(name) if name else None


def _recording_of(detail: AttemptDetail) -> Path | str | None:
    """What the player plays: the file on this computer while it is here (uploading it changes
    nothing to listen to), else the server's copy."""
    return detail.local_recording or detail.recording_path


class ReviewScreen(QWidget):
    back = Signal()
    practise_again = Signal(object, object)  # Scenario, assignment id or None

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        player_factory: PlayerFactory = default_player,
        save_dialog: SaveDialog = ask_where_to_save,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("reviewScreen")
        self.detail: AttemptDetail | None = None
        self._player_factory = player_factory
        self._save_dialog = save_dialog
        self._readings: list[KpiReading] = []  # what the KPI cards show
        self._previous_readings: list[KpiReading] | None = None
        self._recording_load = 0  # the latest load: an older one finishing late is dropped
        self._recording_file: Path | None = None  # what the player plays, to save a copy of
        ctx.changes.changed.connect(self._data_changed)

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
        self.previous = muted()
        self.previous.setObjectName("previousAttempt")
        self.previous.setWordWrap(False)
        self.again_button = QPushButton("Practise &again")
        self.again_button.setObjectName("primary")
        self.again_button.setToolTip("Start this scenario again (the same assignment)")
        self.again_button.hide()
        self.save_recording_button = QPushButton("&Save recording…")
        self.save_recording_button.setToolTip("Save a copy of this call's recording")
        self.save_recording_button.setEnabled(False)

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
        scores.addWidget(self.previous, alignment=Qt.AlignmentFlag.AlignRight)
        actions = QHBoxLayout()
        actions.addStretch()
        actions.addWidget(self.upload_button)
        actions.addWidget(self.again_button)
        scores.addLayout(actions)
        header.addLayout(scores)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(subheading("Transcript"))
        left_layout.addWidget(self.transcript_view, 1)
        playback_row = QHBoxLayout()
        playback_row.addWidget(self.playback, 1)
        playback_row.addWidget(self.save_recording_button)
        left_layout.addLayout(playback_row)
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
        self.again_button.clicked.connect(self.again)
        self.save_recording_button.clicked.connect(self.save_recording)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._leave)
        QShortcut(QKeySequence("Ctrl+Space"), self, self.playback.toggle)
        self.transcript_view.clicked.connect(self.play_turn)
        self.transcript_view.activated.connect(self.play_turn)
        self.playback.position_changed.connect(self._follow)

    # Loading ------------------------------------------------------------------------------
    def open_attempt(self, attempt_id: str) -> None:
        self._recording_load += 1  # whatever the last attempt was loading is not for this one
        self.playback.set_player(None, "Loading…")
        self.save_recording_button.setEnabled(False)
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
        # Scored on the version it was practised on; say which once there is more than one.
        version = f" · version {detail.scenario_version}" if detail.scenario_version > 1 else ""
        self.meta.setText(
            f"{who}{local_time(row.started_at)} · {clock(call_length(detail))}{version}"
        )
        self.score.setText(score_text(row.score, provisional=row.provisional))
        self.verdict.setText(verdict_text(detail))
        self.previous.setText(previous_text(detail))
        self.again_button.setVisible(row.user_id == self._my_id())
        state = row.sync_state.label + (f": {detail.rejection}" if detail.rejection else "")
        self.sync_state.setText(state)
        self.upload_button.setVisible(row.sync_state is SyncState.HELD)
        self.upload_button.setEnabled(True)
        self.transcript.set_turns(transcript_turns(detail.transcript), detail.persona_name)
        shown = readings(self._card_kpis(detail, detail.kpis), detail.rubric)
        earlier = (
            readings(self._card_kpis(detail, detail.previous.kpis), detail.rubric)
            if detail.previous is not None
            else None
        )
        if before is None or shown != self._readings or earlier != self._previous_readings:
            self._show_kpis(shown, earlier)
        if before is None or before.breakdown != detail.breakdown:
            self.breakdown.set_rows(list((detail.breakdown or {}).get("criteria", [])))
            fit_rows(self.breakdown_table)
        if before is None or _recording_of(before) != _recording_of(detail):
            self._load_recording(detail)

    def _data_changed(self, changes: Changes) -> None:
        """A score arrived, or the call was sent or refused: show it if the attempt is on screen."""
        shown = self.detail
        if shown is not None and self.isVisible() and changes.touch(*REVIEW_DATA):
            self.refresh_if_showing(shown.row.id)

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

    @staticmethod
    def _card_kpis(detail: AttemptDetail, kpis: Mapping[str, Any]) -> Mapping[str, Any]:
        """This attempt's Call length card shows the review's one call length."""
        if kpis is not detail.kpis:
            return kpis
        return {**kpis, "call_duration_seconds": call_length(detail)}

    def _show_kpis(self, shown: list[KpiReading], earlier: list[KpiReading] | None) -> None:
        """One card per reading, with the previous attempt's beside; compared as shown
        (Decimals), so the server's KPIs replacing equal provisional ones (floats from JSON)
        leave the cards alone."""
        self._readings = shown
        self._previous_readings = earlier
        while self.kpi_grid.count():
            item = self.kpi_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for i, reading in enumerate(shown):
            previous = earlier[i] if earlier is not None else None
            card = KpiCard(reading, self.ctx.theme.colors, previous=previous)
            self.kpi_grid.addWidget(card, i // KPI_COLUMNS, i % KPI_COLUMNS)

    def _load_recording(self, detail: AttemptDetail) -> None:
        self._recording_load += 1
        load = self._recording_load
        self._recording_file = None
        self.save_recording_button.setEnabled(False)
        if detail.local_recording is None and detail.recording_path is None:
            self.playback.set_player(None, "No recording for this attempt.")
            return
        self.ctx.call(
            self,
            lambda: self.ctx.backend.recording_for_playback(detail),
            lambda path: self._open_player(load, path),
            on_failure=lambda error: self._recording_failed(load, error),
        )

    def _open_player(self, load: int, path: Path) -> None:
        if load != self._recording_load:
            return
        self._recording_file = path
        self.ctx.compute(
            self,
            lambda _task: self._player_factory(path),
            lambda player: self._player_ready(load, player),
            label="Preparing playback…",
            cancellable=False,
            on_failure=lambda error: self._recording_failed(load, error),
        )

    def _player_ready(self, load: int, player: PlayerLike) -> None:
        # Another attempt opened meanwhile: this recording is not its to play.
        if load != self._recording_load or self.detail is None:
            player.close()
            return
        length = call_length(self.detail)
        self.playback.set_player(player, length=float(length) if length is not None else None)
        self.save_recording_button.setEnabled(True)

    def _recording_failed(self, load: int, error: BaseException) -> None:
        if load == self._recording_load:
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

    def again(self) -> None:
        """Practise the same scenario (and assignment) again, through the practice flow."""
        if self.detail is None:
            return
        row = self.detail.row
        self.ctx.call(
            self,
            lambda: self.ctx.backend.scenario(row.scenario_id),
            lambda scenario: self._start_again(scenario, row.assignment_id),
            on_failure=lambda error: show_error(self, error),
        )

    def _start_again(self, scenario: Scenario, assignment_id: str | None) -> None:
        self.playback.close_player()
        self.practise_again.emit(scenario, assignment_id)

    def save_recording(self) -> None:
        """Copy the recording where the rep chooses, off the GUI thread (calls are large)."""
        source = self._recording_file
        if self.detail is None or source is None:
            return
        row = self.detail.row
        suggested = f"{row.scenario_title} {local_time(row.started_at)}{source.suffix}"
        target = self._save_dialog(self, suggested.replace(":", "-").replace("/", "-"))
        if target is None:
            return
        if not target.suffix:
            target = target.with_suffix(source.suffix)
        self.ctx.compute(
            self,
            lambda _task: Path(shutil.copyfile(source, target)),
            lambda saved: self.playback.note(f"Saved a copy to {saved}"),
            label="Saving a copy of the recording…",
            cancellable=False,
            on_failure=lambda error: show_error(self, error),
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
