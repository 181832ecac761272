"""Try it: the scenario being edited, run on the real practice engine (app/try_it.py), answered
by typing, with a WAV file or by speaking (Speak / Stop: the microphone through the same
Recorder a call uses, checked first as before a call: ui/microphone_check.py); the persona
with its picture and its lines (spoken when the persona's voice is on), why each answer took
its edge, and the provisional score by the edited rubric. Nothing is saved.

Rendering and dispatch only: the try is app.try_it.TryRun's; answers run on the compute thread
(ctx.workers.compute), a WAV's or a take's transcription with progress and Cancel in the dialog.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.transcriber_process import ProcessTranscriber
from app.client.views import Scenario
from app.practice import EndReason, TranscriberLike, TurnStatus
from app.scoring import format_number
from app.try_it import NOTHING_SAVED, AnswerSource, TryOutcome, TryRun, TryStep
from audio.devices import check_input, list_input_devices
from audio.errors import AudioError, RecordingStoppedError
from audio.transcribe import Utterance
from ui.context import AppContext
from ui.errors import plain_message
from ui.microphone_check import InputCheck, InputDevices, MicrophoneCheck, input_problem
from ui.models import Column, RowTableModel
from ui.practice_controller import RecorderFactory, RecorderLike
from ui.practice_controller import microphone as configured_microphone
from ui.voice import PersonaVoice
from ui.widgets.avatar import Avatar
from ui.widgets.table import make_table
from ui.workers import Handle, Operation, Task

AUDIO_FILES = "Audio files (*.wav *.flac *.mp3 *.m4a *.ogg);;All files (*)"
SPEAK = "Spea&k"
STOP = "Sto&p"
WHO = {
    AnswerSource.TYPED: "You",
    AnswerSource.WAV: "You (WAV)",
    AnswerSource.MICROPHONE: "You (spoken)",
}
ENDED = {
    EndReason.END_NODE: "the dialog reached an end",
    EndReason.HUNG_UP: "ended here",
    EndReason.TURN_LIMIT: "the turn limit was reached",
}


class ScoreModel(RowTableModel[dict[str, Any]]):
    """The provisional breakdown: criterion, score, why."""

    def __init__(self) -> None:
        super().__init__(
            [
                Column("Criterion", lambda c: str(c.get("label") or c["id"])),
                Column("Score", _criterion_score, align_right=True),
                Column("Why", lambda c: str(c.get("detail") or "")),
            ]
        )


def _criterion_score(criterion: dict[str, Any]) -> str:
    value = criterion.get("score")
    return "—" if value is None else format_number(value)


class _ProgressRow(QWidget):
    """Where this dialog shows a transcription's progress (a ui.workers.ProgressSink)."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.cancel_button = QPushButton("Ca&ncel")
        self._cancel: Callable[[], None] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self._cancelled)
        self.hide()

    def begin(self, label: str, cancel: Callable[[], None] | None) -> object:
        self.label.setText(label)
        self.bar.setValue(0)
        self._cancel = cancel
        self.cancel_button.setEnabled(cancel is not None)
        self.show()
        return label

    def update(self, token: object, fraction: float, text: str) -> None:
        if fraction < 0:
            self.bar.setRange(0, 0)  # busy, no estimate
        else:
            self.bar.setRange(0, 100)
            self.bar.setValue(round(fraction * 100))

    def end(self, token: object) -> None:
        self._cancel = None
        self.hide()

    def _cancelled(self) -> None:
        if self._cancel is not None:
            self._cancel()


class TryItDialog(QDialog):
    """Try `scenario` (the editor's edited one) as a rep would: nothing is saved."""

    def __init__(
        self,
        ctx: AppContext,
        scenario: Scenario,
        parent: QWidget | None = None,
        *,
        transcriber: TranscriberLike | None = None,
        voice: PersonaVoice | None = None,
        picture: bytes | None = None,
        microphone: Callable[[str | None], RecorderFactory] = configured_microphone,
        input_check: InputCheck = check_input,
        input_devices: InputDevices = list_input_devices,
    ) -> None:
        """`transcriber`: for WAV and spoken answers (None: the configured model in its own
        process, started on the first and stopped with the dialog); `voice`: the persona's
        voice (None: one of the dialog's own, when the persona's voice is on in the
        preferences); `picture`: the persona's (None: initials); `microphone(device)`: the
        recorders of a microphone (the settings' one, or the one the check's dialog found),
        checked by `input_check` before each take; `input_devices`: what that dialog offers."""
        super().__init__(parent)
        self.ctx = ctx
        self.scenario = scenario
        self._transcriber = transcriber
        self._own_transcriber: ProcessTranscriber | None = None
        self._voice = voice
        self._microphone = microphone
        self._input_check = input_check
        self._input_devices = input_devices
        self._recorder: RecorderLike | None = None
        self.microphone_check: MicrophoneCheck | None = None
        self.run: TryRun | None = None
        self.outcome: TryOutcome | None = None
        self._handle: Handle | None = None
        self.setWindowTitle(f"Try “{scenario.title}”")
        self.setObjectName("tryItDialog")
        self.resize(960, 640)

        self.note = QLabel(
            f"{NOTHING_SAVED} The call runs on the practice engine with the edited dialog and "
            "rubric; no attempt is created."
        )
        self.note.setObjectName("tryNote")
        self.note.setWordWrap(True)
        self.avatar = Avatar(48)
        self.avatar.set_person(scenario.profile.name, picture)
        self.persona_label = QLabel(f"{scenario.profile.name}, {scenario.profile.role}".strip(", "))
        self.persona_label.setObjectName("subheading")
        self.transcript = QPlainTextEdit()
        self.transcript.setObjectName("tryTranscript")
        self.transcript.setAccessibleName("Transcript of the try")
        self.transcript.setReadOnly(True)
        self.why = QListWidget()
        self.why.setObjectName("tryWhy")
        self.why.setAccessibleName("Why each answer went where it went")
        self.why.setWordWrap(True)
        why_box = QGroupBox("Why")
        why_layout = QVBoxLayout(why_box)
        why_layout.addWidget(self.why)
        split = QSplitter()
        split.addWidget(self.transcript)
        split.addWidget(why_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        self.answer = QLineEdit()
        self.answer.setObjectName("tryAnswer")
        self.answer.setPlaceholderText("Type what you would say, then Enter")
        answer_label = QLabel("&Your answer")
        answer_label.setBuddy(self.answer)
        self.send_button = QPushButton("&Send")
        self.wav_button = QPushButton("Answer with a &WAV file…")
        self.speak_button = QPushButton(SPEAK)
        self.speak_button.setObjectName("trySpeak")
        self.speak_button.setToolTip("Say your answer into the microphone, then press Stop")
        self.end_button = QPushButton("&End the call and score it")
        self.restart_button = QPushButton("&Restart")
        self.progress = _ProgressRow()
        self.status = QLabel()
        self.status.setObjectName("tryStatus")
        self.status.setWordWrap(True)

        self.score_label = QLabel()
        self.score_label.setObjectName("tryScore")
        self.score_label.setWordWrap(True)
        self.score_model = ScoreModel()
        self.score_table = make_table(self.score_model, "tryScoreTable", "Provisional score")
        self.score_table.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        row = QHBoxLayout()
        row.addWidget(answer_label)
        row.addWidget(self.answer, 1)
        row.addWidget(self.send_button)
        row.addWidget(self.wav_button)
        row.addWidget(self.speak_button)
        persona = QHBoxLayout()
        persona.addWidget(self.avatar)
        persona.addWidget(self.persona_label, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.end_button)
        controls.addStretch(1)
        controls.addWidget(self.restart_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(persona)
        layout.addWidget(split, 3)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(controls)
        layout.addWidget(self.score_label)
        layout.addWidget(self.score_table, 1)
        layout.addWidget(self.buttons)

        self.answer.returnPressed.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.wav_button.clicked.connect(lambda: self.answer_with_wav())
        self.speak_button.clicked.connect(self.speak)
        self.end_button.clicked.connect(self.end_call)
        self.restart_button.clicked.connect(self.restart)
        self.buttons.rejected.connect(self.reject)
        self.finished.connect(self._closed)
        self.restart()

    # Commands (GUI thread) ----------------------------------------------------------------
    def restart(self) -> None:
        """A fresh try of the same scenario, from the persona's first line."""
        if self.busy or self.recording:
            return
        if self.run is not None:
            self.run.close()
        self.outcome = None
        self.transcript.clear()
        self.why.clear()
        self.status.clear()
        self.score_label.clear()
        self.score_model.set_rows([])
        self.score_table.hide()
        self.run = TryRun(self.scenario, _OnFirstUse(self._wav_transcriber))
        self._persona(self.run.start().text)
        self._enable()

    def send(self) -> None:
        """The typed answer, as the rep's turn."""
        text = self.answer.text().strip()
        run = self.run
        if not text or run is None or not run.waiting or self.busy:
            return
        self.answer.clear()
        self._answer(lambda _task: run.say(text), None)

    def answer_with_wav(self, path: Path | None = None) -> None:
        """A spoken answer from an audio file (asked for when `path` is None), transcribed off
        the GUI thread."""
        run = self.run
        if run is None or not run.waiting or self.busy:
            return
        if path is None:
            chosen, _filter = QFileDialog.getOpenFileName(
                self, "Answer with a WAV file", "", AUDIO_FILES
            )
            if not chosen:
                return
            path = Path(chosen)
        wav = path

        def work(task: Task) -> TryStep:
            task.on_cancel(run.cancel)
            return run.answer_wav(wav, progress=lambda f: task.progress(f, "Transcribing…"))

        self._answer(work, f"Transcribing {wav.name}…")

    def speak(self) -> None:
        """Speak: record the answer from the microphone (checked first, as before a call:
        without one, the check's message and dialog, and typing or a WAV still work); Stop:
        transcribe it as a WAV answer is."""
        if self._recorder is not None:
            self.stop_speaking()
            return
        if self.run is None or not self.run.waiting or self.busy:
            return
        device = self.ctx.preferences.loaded.settings.input_device
        check = self._input_check
        problem = input_problem(check, device)
        if problem is None:
            self._record(device)
            return
        self.status.setText(problem)
        dialog = MicrophoneCheck(
            problem,
            device=device,
            check=check,
            devices=self._input_devices,
            preferences=self.ctx.preferences,
            parent=self,
        )
        dialog.ready.connect(self._record)
        dialog.open()
        self.microphone_check = dialog

    def stop_speaking(self) -> None:
        """The spoken answer is complete: transcribe it off the GUI thread."""
        recorder, self._recorder = self._recorder, None
        run = self.run
        self.speak_button.setText(SPEAK)
        if recorder is None or run is None:
            return

        def work(task: Task) -> TryStep:
            task.on_cancel(run.cancel)
            try:
                audio = recorder.finish()
            except RecordingStoppedError as error:  # device lost: what was heard still counts
                if error.path is None:
                    raise
                audio = error.path
            return run.answer_wav(
                audio,
                progress=lambda f: task.progress(f, "Transcribing…"),
                source=AnswerSource.MICROPHONE,
            )

        self._answer(work, "Transcribing what you said…")

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def end_call(self) -> None:
        """Stop here and score the call so far."""
        run = self.run
        if run is None or self.busy or self.recording:
            return
        if run.finished and self.outcome is not None:
            return
        self._show_outcome(run.outcome())

    @property
    def busy(self) -> bool:
        return self._handle is not None and self._handle.running

    # Work and results ----------------------------------------------------------------------
    def _answer(self, work: Callable[[Task], TryStep], label: str | None) -> None:
        run = self.run
        op = Operation(self, work)
        if label is not None:
            op.with_progress(self.progress, label, cancellable=True)
        self._handle = self.ctx.start(
            op,
            lambda step: self._answered(run, step),
            on_failure=self._failed,
            pool=self.ctx.workers.compute,
        )
        self._enable()

    def _answered(self, run: TryRun | None, step: TryStep) -> None:
        self._handle = None
        if run is not self.run or run is None:
            return
        self.status.clear()
        who = WHO[step.source]
        if step.status is TurnStatus.FAILED:
            self._line(f"{who}: [not understood: {step.error}]")
        else:
            self._line(f"{who}: {step.answer or '[silence]'}")
        target = step.to_node or "—"
        self.why.addItem(f"{step.index + 1}. {step.node_id} → {target}: {step.reason}")
        self.why.scrollToBottom()
        if step.reply is not None:
            self._persona(step.reply)
        elif run.waiting:
            self.status.setText("No edge matched: the persona waits for another answer.")
        if run.finished:
            self._show_outcome(run.outcome())
        self._enable()

    def _failed(self, error: BaseException) -> None:
        self._handle = None
        self.status.setText(plain_message(error))
        self._enable()

    def _show_outcome(self, outcome: TryOutcome) -> None:
        self.outcome = outcome
        breakdown = outcome.score
        total = breakdown.get("score")
        mark = format_number(breakdown["pass_score"])
        if total is None:
            verdict = "nothing could be measured yet"
            summary = f"Provisional score by the edited rubric: none ({verdict})."
        else:
            verdict = "passes" if breakdown.get("passed") else "does not pass"
            summary = (
                f"Provisional score by the edited rubric: {format_number(total)} — {verdict} "
                f"(pass mark {mark})."
            )
        self.score_label.setText(f"{summary} {NOTHING_SAVED}")
        self.score_model.set_rows(list(breakdown["criteria"]))
        self.score_table.show()
        reason = outcome.result.end_reason
        self.status.setText(f"The call ended: {ENDED[reason] if reason else 'ended here'}.")
        self._enable()

    def _persona(self, text: str) -> None:
        self._line(f"{self.scenario.profile.name}: {text}")
        voice = self._persona_voice()
        if voice is not None:
            voice.say(text, self.scenario.profile.voice)

    def _line(self, text: str) -> None:
        self.transcript.appendPlainText(text)

    def _enable(self) -> None:
        run = self.run
        answering = run is not None and run.waiting and not self.busy and not self.recording
        for widget in (self.answer, self.send_button, self.wav_button):
            widget.setEnabled(answering)
        self.speak_button.setEnabled(answering or self.recording)
        self.end_button.setEnabled(answering)
        self.restart_button.setEnabled(not self.busy and not self.recording)

    # Devices ---------------------------------------------------------------------------------
    def _record(self, device: str | None) -> None:
        run = self.run
        if run is None or not run.waiting or self.busy or self.recording:
            return
        factory = self._microphone(device)
        name = f"spoken-{len(run.steps) + 1:02d}"
        try:
            recorder = factory(run.scratch, name, lambda _level: None)
            recorder.start()
        except (AudioError, OSError) as error:
            self.status.setText(plain_message(error))
            return
        self._recorder = recorder
        self.speak_button.setText(STOP)
        self.status.setText("Recording: say your answer, then press Stop.")
        self._enable()

    def _persona_voice(self) -> PersonaVoice | None:
        if not self.ctx.preferences.speak_persona:
            return None
        if self._voice is None:
            self._voice = PersonaVoice(self)
            if self._voice.problem:
                self.status.setText(self._voice.problem)
        return self._voice if self._voice.available else None

    def _wav_transcriber(self) -> TranscriberLike:
        if self._transcriber is not None:
            return self._transcriber
        if self._own_transcriber is None:
            settings = self.ctx.preferences.loaded.settings.transcription
            self._own_transcriber = ProcessTranscriber(settings.transcriber_settings())
        return self._own_transcriber

    def _closed(self, _result: int) -> None:
        if self._voice is not None:
            self._voice.stop()
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            # Into the try's folder, removed below: nothing of a try is kept anyway.
            with contextlib.suppress(AudioError, OSError):
                recorder.finish()
        if self.run is not None:
            self.run.cancel()
            if not self.busy:
                self.run.close()
        if self._own_transcriber is not None:
            self._own_transcriber.close()
            self._own_transcriber = None


class _OnFirstUse:
    """A transcriber made when the first WAV answer needs it (a typed try never starts one)."""

    def __init__(self, make: Callable[[], TranscriberLike]) -> None:
        self._make = make

    def transcribe(self, audio: Path | np.ndarray, **options: Any) -> Utterance:
        return self._make().transcribe(audio, **options)
