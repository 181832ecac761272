"""Drives one practice call for the practice screen: the Qt side of app.practice.PracticeSession.

The session is headless and reports events on whatever thread caused them; this controller
re-emits them as signals on the GUI thread, records each rep turn with a Recorder (the level
goes to the meter and, when the setting is on, to an end-of-turn detector that ends the turn
after a pause; the key always works), transcribes on the compute thread (progress and Cancel in
the status bar),
speaks the persona's lines when a voice exists, and when the call ends assembles the call's
audio and hands the attempt to the backend (scored here provisionally, then synced).

A call in which the rep said nothing is no attempt: it is never saved, scored or synced. Its
record stays, marked incomplete (app/client/call_files.py), with its audio, so that the
recovery list offers it to resume or discard (app/client/recovery.py), and `incomplete` is
emitted instead of `saved`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import shiboken6
import structlog
from PySide6.QtCore import QElapsedTimer, QObject, Qt, Signal

from app.client.call_files import (
    CALL_AUDIO_NAME,
    NOTHING_SAID,
    CallRecord,
    RecordedTurn,
    assemble_call_audio,
    call_length,
    forget_record,
    timeline_position,
    write_record,
)
from app.client.views import AttemptRow, FinishedAttempt, Scenario, utc_now
from app.practice import (
    CallEnded,
    Event,
    PersonaLine,
    PersonaSpeaks,
    PracticeResult,
    PracticeSession,
    RepTurn,
    RepTurnDone,
    SessionState,
    StateChanged,
    TranscriberLike,
    TranscriptionProgress,
)
from app.transcript import has_rep_speech
from audio.capture import BLOCK_FRAMES, Level
from audio.decode import SAMPLE_RATE
from audio.errors import AudioError, DiskFullError, RecordingStoppedError
from audio.turns import EndOfTurn, TurnSettings
from ui.context import AppContext
from ui.errors import plain_message
from ui.voice import PersonaVoice
from ui.workers import Task

log = structlog.get_logger(__name__)

# The Recorder reports one level per block; the detector counts time in audio, not wall clock.
BLOCK_SECONDS = BLOCK_FRAMES / SAMPLE_RATE


class RecorderLike(Protocol):
    """What the controller uses of audio.capture.Recorder."""

    on_error: Callable[[AudioError], None] | None  # on the recorder's writer thread

    def start(self) -> None: ...
    def finish(self) -> Path: ...


# (folder, recording name, level listener) -> a recorder, not yet started
RecorderFactory = Callable[[Path, str, Callable[[Level], None]], RecorderLike]


def microphone(device: str | None) -> RecorderFactory:
    """Recorders on the configured microphone (None: the system default)."""

    def open_recorder(root: Path, name: str, on_level: Callable[[Level], None]) -> RecorderLike:
        from audio.capture import Recorder

        return Recorder(root, name, device=device, on_level=on_level)

    return open_recorder


class PracticeController(QObject):
    persona_speaks = Signal(object)  # app.practice.PersonaLine
    state_changed = Signal(str)  # a SessionState value, or "loading" / "saving" / "saved"
    rep_turn_done = Signal(object)  # RepTurn
    transcribing = Signal(float)
    level = Signal(float, float)  # rms dBFS, peak dBFS
    call_ended = Signal(object)  # PracticeResult
    saved = Signal(object)  # AttemptRow
    incomplete = Signal(str)  # nothing was said: why the call was kept as incomplete, unsaved
    problem = Signal(str)
    _event = Signal(object)
    _level = Signal(object)
    _paused = Signal(str)  # the recording (by name) in which the rep stopped speaking
    _recording_failed = Signal(str, object)  # a recording (by name) stopped by an AudioError

    def __init__(
        self,
        ctx: AppContext,
        scenario: Scenario,
        assignment_id: str | None,
        *,
        transcriber: TranscriberLike,
        recorder_factory: RecorderFactory,
        recordings_root: Path,
        voice: PersonaVoice | None = None,
        turn_settings: TurnSettings | None = None,
        parent: QObject | None = None,
    ) -> None:
        """`turn_settings`: end a turn after a pause as configured; None: only the key does."""
        super().__init__(parent)
        self.ctx = ctx
        self.scenario = scenario
        self.assignment_id = assignment_id
        self.attempt_id = str(uuid.uuid4())
        self.folder = recordings_root / self.attempt_id
        self.transcriber = transcriber
        self.voice = voice if voice is not None and voice.available else None
        self._recorder_factory = recorder_factory
        self.turn_settings = turn_settings
        # With a voice, the line lasts until the voice is done (speaker returns None).
        speaker = (lambda _text: None) if self.voice is not None else None
        self.session = PracticeSession(scenario, transcriber, speaker=speaker)
        self.state = "ready"
        self.result: PracticeResult | None = None
        self.started_at: datetime | None = None
        self._clock = QElapsedTimer()
        self._recorder: RecorderLike | None = None
        self._recording_name: str | None = None
        self._answering = False
        self._voice_done_early = False
        self._hang_up_when_done = False
        self._heard_speech = False  # in the last recording (set on its writer thread)
        self._task: Task | None = None
        self.session.subscribe(self._from_session)
        # Always queued, even from the GUI thread: handlers may call back into the session,
        # which must not happen while it is still inside the call that emitted the event.
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._level.connect(lambda level: self.level.emit(level.rms_dbfs, level.peak_dbfs))
        self._paused.connect(self._rep_paused)
        self._recording_failed.connect(self._recording_stopped)
        if self.voice is not None:
            self.voice.finished.connect(self._voice_finished)

    # Commands (GUI thread) ----------------------------------------------------------------
    def start(self) -> None:
        """Load the speech model off the GUI thread, then let the persona open the call."""
        self._set_state("loading")
        self.ctx.compute(
            self,
            self._load_model,
            lambda _none: self._begin(),
            label="Loading the speech model…",
            cancellable=False,
            on_failure=self._model_failed,
        )

    def end_turn(self) -> None:
        """The rep has finished speaking: stop recording, transcribe, let the persona answer."""
        if self._recorder is None or self._answering:
            return
        recorder, self._recorder, self._recording_name = self._recorder, None, None
        self._answering = True
        self._set_state(SessionState.TRANSCRIBING.value)
        self.ctx.compute(
            self,
            lambda task: self._answer(task, recorder),
            self._answered,
            label="Transcribing your turn…",
            on_failure=self._answer_failed,
        )

    def end_call(self) -> None:
        """Hang up; a turn being recorded is transcribed first, so the last words count."""
        if self.session.finished or self.state in ("saving", "saved", "incomplete"):
            return
        self._hang_up_when_done = True
        if self.voice is not None:
            self.voice.stop()
        if self._recorder is not None:
            self.end_turn()
        elif not self._answering and self.session.state is not SessionState.READY:
            self.session.hang_up()

    def skip_voice(self) -> None:
        if self.voice is not None:
            self.voice.stop()

    def elapsed_seconds(self) -> float:
        return self._clock.elapsed() / 1000 if self._clock.isValid() else 0.0

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    @property
    def nothing_said(self) -> bool:
        """No rep turn has words so far, and the last recording (perhaps still being recorded or
        transcribed) heard no speech either."""
        spoke = any(turn.text.strip() for turn in self.session.rep_turns)
        return not spoke and not self._heard_speech

    # Work (compute thread) ----------------------------------------------------------------
    def _load_model(self, task: Task) -> None:
        load = getattr(self.transcriber, "load", None)
        if callable(load):
            load()

    def _answer(self, task: Task, recorder: RecorderLike) -> RepTurn:
        self._task = task
        task.on_cancel(self.session.cancel)
        try:
            audio = recorder.finish()
        except RecordingStoppedError as error:  # device lost, disk full
            if error.path is None:
                raise
            audio = error.path  # what was captured before it stopped is kept and used
            self.problem.emit(str(error))
        try:
            return self.session.answer(audio, offset=None)
        finally:
            self._task = None

    # Results (GUI thread) -----------------------------------------------------------------
    def _begin(self) -> None:
        self.started_at = utc_now()
        self._clock.start()
        self.session.start()

    def _model_failed(self, error: BaseException) -> None:
        # The call still runs: every turn is recorded and kept, to transcribe later.
        self.problem.emit(plain_message(error))
        self._begin()

    def _answered(self, turn: RepTurn) -> None:
        self._answering = False
        if self._voice_done_early:
            self._voice_done_early = False
            self.session.persona_finished()
        self._after_turn()

    def _answer_failed(self, error: BaseException) -> None:
        self._answering = False
        self.problem.emit(plain_message(error))
        self._after_turn()

    def _after_turn(self) -> None:
        if self.session.finished:
            return
        if self._hang_up_when_done:
            self.session.hang_up()
        elif self.session.state is SessionState.WAITING_FOR_REP and self._recorder is None:
            self._start_recording()

    def _voice_finished(self) -> None:
        if self.session.state is not SessionState.PERSONA_SPEAKING:
            return
        if self._answering:
            # answer() is still returning on the compute thread; finish the line after it.
            self._voice_done_early = True
        else:
            self.session.persona_finished()

    def _from_session(self, event: Event) -> None:
        # Any thread: progress goes straight to the running task, the rest to the GUI thread.
        if isinstance(event, TranscriptionProgress):
            task = self._task
            if task is not None:
                task.progress(event.fraction, "Transcribing your turn…")
            self.transcribing.emit(event.fraction)
            return
        self._event.emit(event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self._set_state(event.state.value)
            waiting = event.state is SessionState.WAITING_FOR_REP and not self._answering
            if waiting and self._hang_up_when_done:
                if self.session.state is SessionState.WAITING_FOR_REP:
                    self.session.hang_up()
            elif waiting:
                self._start_recording()
        elif isinstance(event, PersonaSpeaks):
            self.persona_speaks.emit(event.line)
            if self.voice is not None:
                self.voice.say(event.line.text, self.scenario.profile.voice)
        elif isinstance(event, RepTurnDone):
            self.rep_turn_done.emit(event.turn)
        elif isinstance(event, CallEnded):
            self._ended(event.result)

    def _start_recording(self) -> None:
        if self._recorder is not None or self.session.state is not SessionState.WAITING_FOR_REP:
            return
        name = f"turn-{len(self.session.rep_turns) + 1:02d}"
        persona, rep = self.session.persona_lines, self.session.rep_turns
        # The turn starts where everything said so far ends: where session.answer() will put it.
        # Recorded before the microphone opens, so no moment of the turn lacks its record.
        offset = timeline_position(
            (line.end for line in persona), ((turn.offset, turn.duration) for turn in rep)
        )
        self._keep_record(persona, rep, RecordedTurn(f"{name}.flac", offset))  # Recorder's name
        self._heard_speech = False  # before the microphone opens: its first blocks may be speech
        try:
            recorder = self._recorder_factory(self.folder, name, self._level_listener(name))
            recorder.on_error = lambda error: self._recording_failed.emit(name, error)
            recorder.start()
        except (AudioError, OSError) as error:
            self._keep_record(persona, rep)  # nothing of this turn was recorded
            self.problem.emit(plain_message(error))
            return
        self._recorder = recorder
        self._recording_name = name
        self._set_state("recording")

    def _keep_record(
        self,
        persona_lines: Sequence[PersonaLine],
        rep_turns: Sequence[RepTurn],
        recording: RecordedTurn | None = None,
        *,
        incomplete: str | None = None,
    ) -> None:
        """Write the call's record (app/client/call_files.py): what a crash now would recover."""
        account = self.ctx.backend.account
        if account is None:
            return
        turns = tuple(RecordedTurn(turn.audio.name, turn.offset) for turn in rep_turns)
        record = CallRecord(
            attempt_id=self.attempt_id,
            user_id=account.user_id,
            org_id=account.org_id,
            scenario_id=self.scenario.id,
            scenario_title=self.scenario.title,
            assignment_id=self.assignment_id,
            started_at=self.started_at or utc_now(),
            persona_turns=tuple(line.turn() for line in persona_lines),
            rep_turns=turns + ((recording,) if recording is not None else ()),
            incomplete=incomplete,
            vocabulary=self.session.scenario.vocabulary,
        )
        try:
            write_record(self.folder, record)
        except OSError as error:
            # The call goes on (its audio is still journalled); only recovery would be lost.
            log.warning("call record not written", attempt_id=self.attempt_id, error=str(error))

    def _level_listener(self, name: str) -> Callable[[Level], None]:
        """Levels of one recording, on its writer thread: to the meter, the pause detector and
        `nothing_said` (a detector with default settings, when turns end only by key)."""
        ends_on_pause = self.turn_settings is not None
        detector = EndOfTurn(self.turn_settings)

        def on_level(level: Level) -> None:
            if not shiboken6.isValid(self):
                # The call was closed and this controller deleted while the writer thread
                # drains its last blocks: nobody is listening any more.
                return
            self._level.emit(level)
            if detector.ended:
                return  # signalled once: update() keeps answering True after the turn ended
            ended = detector.update(level, BLOCK_SECONDS)
            if detector.speaking:
                self._heard_speech = True
            if ended and ends_on_pause:
                self._paused.emit(name)

        return on_level

    def _rep_paused(self, name: str) -> None:
        # Queued from the writer thread: the turn may have ended by key meanwhile.
        if self._recorder is not None and name == self._recording_name:
            log.info("turn ended on a pause", recording=name)
            self.end_turn()

    def _recording_stopped(self, name: str, error: AudioError) -> None:
        # Queued from the writer thread. A full disk records nothing more: the call ends with
        # what was said (the turn's message comes when it is finished, from end_turn).
        if isinstance(error, DiskFullError) and name == self._recording_name:
            log.warning("disk full: ending the call", recording=name)
            self.end_call()

    def _ended(self, result: PracticeResult) -> None:
        self.result = result
        if not has_rep_speech(result.transcript):
            self._keep_incomplete(result)
            return
        self._set_state("saving")
        self._keep_record(result.persona_lines, result.rep_turns)
        self.call_ended.emit(result)
        started = self.started_at or utc_now()
        length = call_length(result.transcript)
        target = self.folder / CALL_AUDIO_NAME
        clips = [(turn.audio, turn.offset) for turn in result.rep_turns]
        self.ctx.compute(
            self,
            lambda _task: assemble_call_audio(clips, length, target),
            lambda path: self._save(result, started, path),
            label="Saving the call…",
            cancellable=False,
            on_failure=lambda error: self._save(result, started, None, error),
        )

    def _keep_incomplete(self, result: PracticeResult) -> None:
        """Nothing was said: no attempt. The record (marked so) and the audio stay for recovery."""
        self._set_state("incomplete")
        self._keep_record(result.persona_lines, result.rep_turns, incomplete=NOTHING_SAID)
        log.info("practice kept as incomplete", attempt_id=self.attempt_id, reason=NOTHING_SAID)
        self.incomplete.emit(NOTHING_SAID)

    def _save(
        self,
        result: PracticeResult,
        started: datetime,
        recording: Path | None,
        error: BaseException | None = None,
    ) -> None:
        if error is not None:
            self.problem.emit(plain_message(error))
        finished = FinishedAttempt(
            id=self.attempt_id,
            scenario_id=self.scenario.id,
            assignment_id=self.assignment_id,
            started_at=started,
            ended_at=utc_now(),
            transcript=result.transcript,
            recording=recording,
        )
        self.ctx.call(
            self,
            lambda: self._save_attempt(finished),
            self._saved,
            label="Saving and syncing the call…",
            on_failure=lambda error: self.problem.emit(plain_message(error)),
        )

    def _save_attempt(self, finished: FinishedAttempt) -> AttemptRow:
        # Network thread. Saved under its own id, so a crash before the record is forgotten
        # only makes recovery find the attempt already there (app/client/recovery.py).
        row = self.ctx.backend.save_attempt(finished)
        forget_record(self.folder)
        return row

    def _saved(self, row: AttemptRow) -> None:
        self._set_state("saved")
        log.info("practice saved", attempt_id=row.id, sync=row.sync_state.value)
        self.saved.emit(row)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def close(self) -> None:
        """Leave the screen: stop a recording in progress (its audio stays on disk)."""
        recorder, self._recorder, self._recording_name = self._recorder, None, None
        if recorder is not None:
            try:
                recorder.finish()
            except AudioError as error:
                log.warning("recording stopped with a problem", error=str(error))
        if self.voice is not None:
            self.voice.stop()
