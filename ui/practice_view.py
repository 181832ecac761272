"""The practice screen: persona card, the persona's current line, whose turn it is, a live input
level meter, elapsed time, the transcript of finished turns, and end turn / end call.

Each persona line is always shown as text, beside the persona's avatar and name, voice or not;
where the persona has no voice (no speech engine, or it failed) the screen says so. The avatar is
the persona's picture where the scenario has one (fetched once through app/client/avatars.py and
kept, so offline calls show it too), its initials until then or without one.

Keyboard: Space or Ctrl+Enter ends your turn (so does a pause, if the setting is on), Ctrl+E ends
the call, Ctrl+K skips the voice.
All work happens in PracticeController; this screen only shows its signals.
"""

from __future__ import annotations

import structlog
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.avatars import AvatarService, avatar_name
from app.client.formatting import clock, score_text
from app.client.views import AttemptRow
from app.practice import PersonaLine, PracticeResult, RepTurn, TurnStatus
from sync.rows import number as as_decimal
from ui.context import AppContext
from ui.errors import show_error
from ui.models import TranscriptModel, TranscriptTurn
from ui.practice_controller import PracticeController
from ui.voice import PersonaVoice
from ui.widgets.avatar import Avatar
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import muted, subheading
from ui.widgets.level_meter import LevelMeter
from ui.widgets.persona_card import PersonaCard

log = structlog.get_logger(__name__)

ELAPSED_TICK_MS = 250


def turn_text(state: str, persona: str, *, ends_on_pause: bool = False) -> str:
    """Whose turn it is, in words, for each controller state."""
    return {
        "ready": "Getting ready…",
        "loading": "Loading the speech model…",
        "persona_speaking": f"{persona} is speaking…",
        "waiting_for_rep": "Your turn",
        "recording": (
            "Your turn: speak now; pause or press Space when you are done"
            if ends_on_pause
            else "Your turn: speak now, then press Space"
        ),
        "transcribing": "Listening back to your turn…",
        "ended": "Call ended",
        "saving": "Call ended. Saving…",
        "saved": "Call saved",
        "incomplete": "Call ended: nothing you said was heard (kept as incomplete, not scored)",
    }.get(state, state)


class PracticeScreen(QWidget):
    finished = Signal(str)  # the saved attempt's id
    cancelled = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("practiceScreen")
        self.controller: PracticeController | None = None
        self._voice: PersonaVoice | None = None  # the call's voice, whose failures show here

        self.persona_card = PersonaCard()
        self.turn = QLabel()
        self.turn.setObjectName("subheading")
        self.turn.setAccessibleName("Whose turn")
        self.persona_line = QLabel()
        self.persona_line.setObjectName("personaLine")
        self.persona_line.setWordWrap(True)
        self.persona_line.setAccessibleName("What the persona says")
        self.persona_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.speaker_avatar = Avatar(40)
        self.speaker_name = QLabel()
        self.speaker_name.setObjectName("subheading")
        self.voice_notice = muted()
        self.voice_notice.setObjectName("voiceNotice")
        self.voice_notice.setWordWrap(True)
        self.voice_notice.hide()
        self.meter = LevelMeter(colors=ctx.theme.colors)
        self.elapsed = QLabel("0:00")
        self.elapsed.setObjectName("bigNumber")
        self.elapsed.setAccessibleName("Elapsed time")
        self.notice = muted()
        self.notice.setObjectName("practiceNotice")
        self.end_turn_button = QPushButton("End &turn (Space)")
        self.end_turn_button.setObjectName("primary")
        self.skip_voice_button = QPushButton("S&kip voice")
        self.end_call_button = QPushButton("End &call (Ctrl+E)")
        self.transcript = TranscriptModel()
        self.transcript_view = QListView()
        self.transcript_view.setObjectName("liveTranscript")
        self.transcript_view.setAccessibleName("Transcript of finished turns")
        self.transcript_view.setModel(self.transcript)
        self.transcript_view.setWordWrap(True)
        self.transcript_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)

        left = QVBoxLayout()
        left.addWidget(self.persona_card)
        left.addWidget(self.turn)
        self.persona_line.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        left.addWidget(self._line_bubble(), 1)
        left.addWidget(self.voice_notice)
        meter_row = QHBoxLayout()
        meter_label = QLabel("Microphone")
        meter_label.setBuddy(self.meter)
        meter_row.addWidget(meter_label)
        meter_row.addWidget(self.meter, 1)
        meter_row.addWidget(self.elapsed)
        left.addLayout(meter_row)
        left.addWidget(self.notice)
        buttons = QHBoxLayout()
        buttons.addWidget(self.end_call_button)
        buttons.addWidget(self.skip_voice_button)
        buttons.addStretch()
        buttons.addWidget(self.end_turn_button)
        left.addLayout(buttons)
        right = QVBoxLayout()
        right.addWidget(subheading("Transcript"))
        right.addWidget(self.transcript_view, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)
        layout.addLayout(right, 2)

        self.end_turn_button.clicked.connect(self.end_turn)
        self.end_call_button.clicked.connect(self.end_call)
        self.skip_voice_button.clicked.connect(self.skip_voice)
        for keys, slot in (
            (QKeySequence(Qt.Key.Key_Space), self.end_turn),
            (QKeySequence("Ctrl+Return"), self.end_turn),
            (QKeySequence("Ctrl+E"), self.end_call),
            (QKeySequence("Ctrl+K"), self.skip_voice),
        ):
            shortcut = QShortcut(keys, self, slot)
            # Only while this screen is shown: the review screen has shortcuts of its own.
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._ticker = QTimer(self)
        self._ticker.setInterval(ELAPSED_TICK_MS)
        self._ticker.timeout.connect(self._tick)
        # A bound slot, not a lambda: Qt drops it with this widget (a lambda outlived it).
        ctx.theme.changed.connect(self._recolor)

    def _recolor(self) -> None:
        self.meter.colors = self.ctx.theme.colors

    def _line_bubble(self) -> QFrame:
        """Who is speaking and what they say: the middle of the screen, never empty."""
        bubble = QFrame()
        bubble.setObjectName("card")
        row = QHBoxLayout(bubble)
        row.addWidget(self.speaker_avatar, alignment=Qt.AlignmentFlag.AlignTop)
        column = QVBoxLayout()
        column.addWidget(self.speaker_name)
        column.addWidget(self.persona_line, 1)
        row.addLayout(column, 1)
        return bubble

    def begin(self, controller: PracticeController, voice_problem: str | None = None) -> None:
        """Show a new call and start it; `voice_problem`: why the persona has no voice."""
        self.close_call()
        self.controller = controller
        controller.setParent(self)
        scenario = controller.scenario
        self.persona_card.show_scenario(scenario)
        self.transcript.set_turns([], scenario.profile.name)
        name = scenario.profile.name
        self.speaker_avatar.set_person(name)
        if avatar_name(scenario) is not None:
            self.ctx.call(
                self,
                lambda: AvatarService(self.ctx.backend).image(scenario),
                lambda picture: self._show_picture(controller, picture),
                on_failure=lambda error: log.info("persona picture not shown", error=str(error)),
            )
        self.speaker_name.setText(name)
        self.persona_line.setText(f"{name} will answer in a moment…")
        self._show_voice_problem(voice_problem)
        if controller.voice is not None:
            controller.voice.failed.connect(self._show_voice_problem)
            self._voice = controller.voice
        self.notice.setText("")
        self.meter.reset()
        self.elapsed.setText("0:00")
        self.skip_voice_button.setVisible(controller.voice is not None)
        controller.persona_speaks.connect(self._persona_speaks)
        controller.state_changed.connect(self._state_changed)
        controller.rep_turn_done.connect(self._rep_turn_done)
        controller.level.connect(self.meter.set_level)
        controller.transcribing.connect(self._transcribing)
        controller.call_ended.connect(self._call_ended)
        controller.saved.connect(self._saved)
        controller.problem.connect(self._problem)
        self._state_changed("ready")
        self._ticker.start()
        self.setFocus()
        controller.start()

    def end_turn(self) -> None:
        if self.controller is not None:
            self.controller.end_turn()

    def end_call(self) -> None:
        controller = self.controller
        if controller is None:
            return
        if controller.session.finished or not controller.nothing_said:
            controller.end_call()
            return
        # A call with nothing said is no attempt: say what ending it now means.
        confirm_destructive(
            self,
            name="confirmEndCall",
            title="End the call?",
            text="Nothing you said has been heard in this call. If you end it now it is kept "
            "as incomplete, not scored: you can recover or discard it later.",
            action="End call",
            on_confirm=controller.end_call,
        )

    def skip_voice(self) -> None:
        if self.controller is not None:
            self.controller.skip_voice()

    def close_call(self) -> None:
        self._ticker.stop()
        voice, self._voice = self._voice, None
        if voice is not None:
            voice.failed.disconnect(self._show_voice_problem)  # the voice outlives the call
        if self.controller is not None:
            self.controller.close()
            self.controller.deleteLater()
            self.controller = None

    # Signals --------------------------------------------------------------------------------
    def _show_picture(self, controller: PracticeController, picture: bytes | None) -> None:
        if controller is self.controller:  # not a call since replaced
            self.persona_card.avatar.set_picture(picture)
            self.speaker_avatar.set_picture(picture)

    def _show_voice_problem(self, text: str | None) -> None:
        self.voice_notice.setText(text or "")
        self.voice_notice.setVisible(bool(text))

    def _persona_speaks(self, line: PersonaLine) -> None:
        self.persona_line.setText(f"“{line.text}”")
        # Call time, as the review shows it: the persona's line starts where the last turn ended.
        end = line.end if line.end is not None else line.start
        self.transcript.append(TranscriptTurn("persona", line.start, end, line.text))
        self.transcript_view.scrollToBottom()

    def _state_changed(self, state: str) -> None:
        controller = self.controller
        persona = controller.scenario.profile.name if controller else "The persona"
        on_pause = controller is not None and controller.turn_settings is not None
        self.turn.setText(turn_text(state, persona, ends_on_pause=on_pause))
        recording = state == "recording"
        self.end_turn_button.setEnabled(recording)
        self.end_call_button.setEnabled(state not in ("ended", "saving", "saved", "incomplete"))
        self.skip_voice_button.setEnabled(state == "persona_speaking")
        if not recording:
            self.meter.reset()
        if state in ("ended", "saving", "saved", "incomplete"):
            self._ticker.stop()

    def _rep_turn_done(self, turn: RepTurn) -> None:
        text = {
            TurnStatus.TRANSCRIBED: turn.text,
            TurnStatus.SILENT: "(nothing was heard)",
            TurnStatus.FAILED: f"(not transcribed: {turn.error}; the recording is kept)",
        }[turn.status]
        self.transcript.append(
            TranscriptTurn("rep", turn.offset, turn.offset + turn.duration, text)
        )
        self.transcript_view.scrollToBottom()
        self.notice.setText("")

    def _transcribing(self, fraction: float) -> None:
        self.notice.setText(f"Transcribing your turn… {round(fraction * 100)} %")

    def _call_ended(self, result: PracticeResult) -> None:
        score = as_decimal(result.score.get("score"))
        self.persona_line.setText(
            f"Call over. Provisional score: {score_text(score)}. Saving it and opening the review…"
        )

    def _saved(self, row: AttemptRow) -> None:
        self.finished.emit(row.id)

    def _problem(self, text: str) -> None:
        self.notice.setText(text)
        show_error(self, text)

    def _tick(self) -> None:
        if self.controller is not None:
            self.elapsed.setText(clock(self.controller.elapsed_seconds()))
