"""Offers the practice calls a crash or kill interrupted, and those that ended with nothing said
(incomplete): recover (resume) each as an attempt, or discard it.

Non-blocking: the window stays usable while it is open. Recovering runs app/client/recovery.py's
work on the compute thread (transcription, progress and Cancel in the status bar) and then saves
through the backend on the network thread; discarding asks first. The audio is never deleted except
by an explicit, confirmed Discard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import clock, local_time, score_text
from app.client.recovery import (
    InterruptedCall,
    RecoveredCall,
    discard_call,
    recover_call,
    save_recovered,
)
from app.client.views import AttemptRow
from app.errors import CoachdeskError
from app.practice import TranscriberLike
from audio.errors import AudioError
from ui.context import AppContext
from ui.errors import plain_message
from ui.models import ROW_ROLE, Column, RowTableModel
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import muted, subheading
from ui.widgets.table import make_table

log = structlog.get_logger(__name__)

UNKNOWN_SCENARIO = "Unknown scenario (audio only)"
KEPT = "The recording is kept and offered again at the next start."
NO_SPEECH_FOUND = (
    "No speech was found in this call, so it is not scored, synced or counted anywhere. It is "
    "kept here as incomplete: recover it again (for instance once transcription works) or "
    "discard it."
)


def call_status(call: InterruptedCall) -> str:
    """The list's status of a call as found on disk."""
    if call.incomplete:
        return f"Incomplete: {call.incomplete}"
    return "Interrupted"


@dataclass(frozen=True)
class Entry:
    call: InterruptedCall
    status: str = "Interrupted"
    busy: bool = False

    @classmethod
    def found(cls, call: InterruptedCall) -> Entry:
        return cls(call, call_status(call))


COLUMNS: tuple[Column[Entry], ...] = (
    Column("Started", lambda e: local_time(e.call.started_at), lambda e: e.call.started_at),
    Column("Recorded", lambda e: clock(e.call.seconds), lambda e: e.call.seconds, True),
    Column("Scenario", lambda e: e.call.scenario_title or UNKNOWN_SCENARIO),
    Column("Status", lambda e: e.status, tooltip=lambda e: e.status),
)


def _not_transcribed(recovered: RecoveredCall) -> str:
    """The turns transcription could not read, said after the main message ("" if none)."""
    count = len(recovered.not_transcribed)
    if not count:
        return ""
    problems = "; ".join(recovered.not_transcribed)
    return f" {count} turn{'s' if count != 1 else ''} could not be transcribed ({problems})."


class RecoveryDialog(QDialog):
    recovered = Signal(object)  # the saved AttemptRow
    # (scenario_id, assignment_id or None): start the incomplete call's scenario afresh
    call_again = Signal(str, object)

    def __init__(
        self,
        ctx: AppContext,
        transcriber: Callable[[], TranscriberLike],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._transcriber = transcriber
        self.setObjectName("recoveryDialog")
        self.setWindowTitle("Recover interrupted practice calls")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.model: RowTableModel[Entry] = RowTableModel(COLUMNS, ctx.theme.colors)
        self.table = make_table(self.model, "interruptedCallsTable", "Interrupted calls", stretch=2)
        self.recover_button = QPushButton("&Recover")
        self.recover_button.setObjectName("primary")
        self.discard_button = QPushButton("&Discard…")
        self.call_again_button = QPushButton("&Call again")
        self.call_again_button.setToolTip(
            "Start this scenario again from its first line; the incomplete call stays listed "
            "until you discard it"
        )
        self.message = muted()
        self.message.setObjectName("recoveryMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        buttons.addButton(self.recover_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.call_again_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.later_button = buttons.addButton("&Later", QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(subheading("Practice calls that did not finish"))
        layout.addWidget(
            muted(
                "Coachdesk stopped while these calls were being recorded, or nothing you said "
                "was heard in them (incomplete calls, never scored). Nothing recorded is lost: "
                "recover a call to transcribe, score and sync it like any attempt, or discard it."
            )
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(720, 360)

        self.recover_button.clicked.connect(self.recover_selected)
        self.discard_button.clicked.connect(self.discard_selected)
        self.call_again_button.clicked.connect(self.call_selected_again)
        buttons.rejected.connect(self.reject)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        # A bound slot, not a lambda: Qt drops it with this widget (a lambda outlived it).
        ctx.theme.changed.connect(self._recolor)

    def _recolor(self) -> None:
        self.model.set_colors(self.ctx.theme.colors)

    # Contents -------------------------------------------------------------------------------
    @property
    def calls(self) -> list[InterruptedCall]:
        return [entry.call for entry in self.model.rows]

    def set_calls(self, calls: list[InterruptedCall]) -> None:
        """Show these calls as found now; one being recovered stays as it is until it is done."""
        busy = {entry.call.key: entry for entry in self.model.rows if entry.busy}
        self._set_entries([busy.get(call.key, Entry.found(call)) for call in calls])

    def selected(self) -> Entry | None:
        index = self.table.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    # Recover --------------------------------------------------------------------------------
    def recover_selected(self) -> None:
        entry = self.selected()
        if entry is None or entry.busy:
            return
        call = entry.call
        self._update(call, "Recovering…", busy=True)
        self.message.setText("")
        self.ctx.compute(
            self,
            lambda task: recover_call(
                call,
                self._transcriber(),
                progress=lambda fraction: task.progress(fraction, "Transcribing a recovered call…"),
                cancelled=lambda: task.cancelled,
            ),
            self._audio_recovered,
            label="Recovering an interrupted call…",
            on_failure=lambda error: self._failed(call, error),
            on_cancel=lambda: self._update(call, call_status(call), busy=False),
        )

    def _audio_recovered(self, recovered: RecoveredCall) -> None:
        call = recovered.call
        if recovered.incomplete is not None:
            self._replace(Entry.found(call))
            self.message.setText(NO_SPEECH_FOUND + _not_transcribed(recovered))
            return
        if recovered.attempt is None:
            self._remove(call)
            files = ", ".join(str(path) for path in recovered.audio)
            self.message.setText(
                f"The recording is saved as {files}. Coachdesk does not know which scenario it "
                "was for, so it cannot be scored or synced as an attempt."
            )
            return
        self._update(call, "Saving…", busy=True)
        self.ctx.call(
            self,
            lambda: save_recovered(self.ctx.backend, recovered),
            lambda row: self._saved(recovered, row),
            label="Saving the recovered call…",
            on_failure=lambda error: self._failed(call, error),
        )

    def _saved(self, recovered: RecoveredCall, row: AttemptRow) -> None:
        self._remove(recovered.call)
        text = (
            f"Recovered “{row.scenario_title}” from {local_time(row.started_at)}: saved with "
            f"a provisional score of {score_text(row.score)}, and it syncs like any attempt."
        )
        if recovered.not_transcribed:
            text += _not_transcribed(recovered) + " The audio is in the saved recording."
        self.message.setText(text)
        self.recovered.emit(row)

    def _failed(self, call: InterruptedCall, error: BaseException) -> None:
        expected = isinstance(error, (CoachdeskError, AudioError, OSError))
        log.warning(
            "interrupted call not recovered",
            folder=str(call.folder),
            error_type=type(error).__name__,
            exc_info=None if expected else error,  # anything else is a bug: keep its traceback
        )
        self._update(call, "Not recovered", busy=False)
        self.message.setText(f"{plain_message(error)} {KEPT}")

    # Discard --------------------------------------------------------------------------------
    def call_selected_again(self) -> None:
        """Resume an incomplete call the only way one can be: its scenario from the start."""
        entry = self.selected()
        if entry is None or entry.call.record is None:
            return
        record = entry.call.record
        self.call_again.emit(record.scenario_id, record.assignment_id)
        self.hide()

    def discard_selected(self) -> QMessageBox | None:
        entry = self.selected()
        if entry is None or entry.busy:
            return None
        call = entry.call
        return confirm_destructive(
            self,
            name="confirmDiscard",
            title="Discard this call?",
            text=f"Discard the {'incomplete' if call.incomplete else 'interrupted'} call from "
            f"{local_time(call.started_at)} "
            f"({clock(call.seconds)} recorded)? Its recording is deleted and cannot be recovered.",
            action="Discard",
            on_confirm=lambda: self._discard(call),
        )

    def _discard(self, call: InterruptedCall) -> None:
        try:
            discard_call(call)
        except OSError as error:
            log.warning("interrupted call not discarded", folder=str(call.folder), error=str(error))
            self.message.setText(plain_message(error))
            return
        self._remove(call)
        self.message.setText("The call was discarded.")

    # Helpers --------------------------------------------------------------------------------
    def _set_entries(self, entries: list[Entry]) -> None:
        current = self.selected()
        self.model.set_rows(entries)
        keys = [entry.call.key for entry in entries]
        if current is not None and current.call.key in keys:
            self.table.selectRow(keys.index(current.call.key))
        elif entries:
            self.table.selectRow(0)

    def _update(self, call: InterruptedCall, status: str, *, busy: bool) -> None:
        self._set_entries(
            [
                replace(entry, status=status, busy=busy) if entry.call.key == call.key else entry
                for entry in self.model.rows
            ]
        )

    def _replace(self, entry: Entry) -> None:
        """The call as it is now (an incomplete call's record was just marked so)."""
        key = entry.call.key
        self._set_entries([entry if e.call.key == key else e for e in self.model.rows])

    def _remove(self, call: InterruptedCall) -> None:
        self._set_entries([entry for entry in self.model.rows if entry.call.key != call.key])

    def _update_buttons(self) -> None:
        entry = self.selected()
        idle = entry is not None and not entry.busy
        self.recover_button.setEnabled(idle)
        self.discard_button.setEnabled(idle)
        incomplete = entry is not None and bool(entry.call.incomplete)
        self.call_again_button.setEnabled(idle and incomplete)
