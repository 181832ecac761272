"""One practice call as a headless state machine: persona line, rep turn, transcription, next line.

The UI (or the CLI) drives it and listens; it knows no Qt, no devices and no threads:

    session = PracticeSession(scenario, transcriber, speaker=tts_say)
    session.subscribe(on_event)          # PersonaSpeaks, RepTurnDone, CallEnded, ...
    session.start()                      # the persona's first line
    session.persona_finished()           # the voice is done (only if speaker returned None)
    session.answer(recording)            # transcribe the rep's turn, move on; a worker thread
    ...                                  # until session.finished
    result = session.result()            # transcript, KPIs, provisional score

Timeline. Turns are placed on the call's *conversation* time, not wall time: a persona line starts
where the previous turn ended and lasts as long as the voice spoke (measured with `clock` between
`start`/`answer` and `persona_finished`, or what `speaker` returned, or an estimate from its words);
the rep's recording starts when the line ends and lasts as long as the audio. Time spent
transcribing between turns is not part of the call. Silence at the start of a recording is the
rep's response latency, as it would be on a real call.

A turn whose audio cannot be read or transcribed does not stop the call: the turn is marked
failed with the reason, its audio file is left where it is, and the dialog treats it as a turn in
which nothing was understood (the node's default edge). `retry_failed` transcribes such turns again
later, for instance once a working model is configured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import structlog

from app.branching import DEFAULT_MAX_TURNS, Dialog, Node, Step, TurnLimitReached
from app.kpis import compute_kpis
from app.scenarios import Scenario
from app.scoring import score
from app.transcript import (
    build_transcript,
    estimate_speech_seconds,
    persona_turn,
    rep_turn,
    seconds,
)
from audio.decode import SAMPLE_RATE, load_audio
from audio.errors import AudioError
from audio.transcribe import Utterance

log = structlog.get_logger(__name__)


class TranscriberLike(Protocol):
    """What the session needs of audio.transcribe.Transcriber."""

    def transcribe(
        self,
        audio: Path | np.ndarray,
        *,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        vocabulary: Sequence[str] = (),
    ) -> Utterance: ...


# speaker(text) -> seconds the line took to say, or None: "saying it, persona_finished() follows"
Speaker = Callable[[str], float | None]


class PracticeError(Exception):
    """The session was asked for something its state does not allow (a UI bug, not a user error)."""


class SessionState(StrEnum):
    READY = "ready"  # created, start() not called yet
    PERSONA_SPEAKING = "persona_speaking"  # a line is being said; persona_finished() ends it
    WAITING_FOR_REP = "waiting_for_rep"  # the rep's turn: record, then answer()
    TRANSCRIBING = "transcribing"  # answer() is running
    ENDED = "ended"


class EndReason(StrEnum):
    END_NODE = "end_node"  # the dialog reached an end node: a complete call
    HUNG_UP = "hung_up"  # the rep ended the call early
    TURN_LIMIT = "turn_limit"  # the dialog went round without reaching an end node


class TurnStatus(StrEnum):
    TRANSCRIBED = "transcribed"
    SILENT = "silent"  # transcribed, but no words were said
    FAILED = "failed"  # the audio could not be read or transcribed; `error` says why


@dataclass
class PersonaLine:
    index: int  # 0 for the first line of the call
    node_id: str
    text: str
    start: float  # seconds into the call
    end: float | None = None  # None while the line is being said

    def turn(self) -> dict[str, Any]:
        return persona_turn(self.text, self.start, self.end)


@dataclass
class RepTurn:
    index: int  # 0 for the rep's first turn
    node_id: str  # the node whose line the rep answered
    audio: Path
    offset: float  # seconds into the call at which the recording started
    duration: float = 0.0  # seconds of audio (0 when it could not be read)
    status: TurnStatus = TurnStatus.FAILED
    utterance: Utterance | None = None
    error: str | None = None  # why the turn failed
    step: Step | None = None  # where the dialog went after this turn

    @property
    def text(self) -> str:
        return self.utterance.text if self.utterance is not None else ""


@dataclass(frozen=True)
class PracticeResult:
    scenario_id: str
    transcript: dict[str, Any]
    kpis: dict[str, Any]
    score: dict[str, Any]  # the rubric breakdown; score["score"] is None if nothing was measured
    path: tuple[str, ...]  # node ids visited, start first
    persona_lines: tuple[PersonaLine, ...]
    rep_turns: tuple[RepTurn, ...]
    end_reason: EndReason | None  # None: the call has not ended (a partial result)

    @property
    def failed_turns(self) -> tuple[RepTurn, ...]:
        return tuple(turn for turn in self.rep_turns if turn.status is TurnStatus.FAILED)

    @property
    def complete(self) -> bool:
        """The dialog reached an end node and every rep turn was transcribed."""
        return self.end_reason is EndReason.END_NODE and not self.failed_turns


# --- events --------------------------------------------------------------------------------------
# Delivered to subscribers on the thread that caused them (answer() runs on a worker thread); a Qt
# bridge re-emits them as signals on the GUI thread.


@dataclass(frozen=True)
class StateChanged:
    state: SessionState


@dataclass(frozen=True)
class PersonaSpeaks:
    line: PersonaLine


@dataclass(frozen=True)
class TranscriptionStarted:
    turn: RepTurn


@dataclass(frozen=True)
class TranscriptionProgress:
    turn: RepTurn
    fraction: float  # 0..1 of the turn's audio


@dataclass(frozen=True)
class RepTurnDone:
    turn: RepTurn  # status says whether it was transcribed; step where the dialog went


@dataclass(frozen=True)
class CallEnded:
    result: PracticeResult


Event = (
    StateChanged
    | PersonaSpeaks
    | TranscriptionStarted
    | TranscriptionProgress
    | RepTurnDone
    | CallEnded
)
Observer = Callable[[Event], None]


@dataclass
class _Timeline:
    position: float = 0.0  # seconds into the call where the next turn starts
    speaking_since: float | None = None  # clock() when the current line began, if unmeasured


class PracticeSession:
    """One practice call of one scenario. Methods are called from one thread at a time, except
    `cancel()`, which any thread may call to stop a running transcription."""

    def __init__(
        self,
        scenario: Scenario,
        transcriber: TranscriberLike,
        speaker: Speaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        self.scenario = scenario
        self.transcriber = transcriber
        self.speaker = speaker
        self.clock = clock
        self.dialog = Dialog(scenario.branching, max_turns=max_turns)
        self.state = SessionState.READY
        self.end_reason: EndReason | None = None
        self.persona_lines: list[PersonaLine] = []
        self.rep_turns: list[RepTurn] = []
        self._observers: list[Observer] = []
        self._timeline = _Timeline()
        self._cancelled = threading.Event()
        self._log = log.bind(scenario_id=scenario.id)

    # --- observers ------------------------------------------------------------------------------

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call `observer(event)` for every event from now on; returns the unsubscribe function."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def _emit(self, event: Event) -> None:
        for observer in list(self._observers):
            observer(event)

    def _set_state(self, state: SessionState) -> None:
        if state is not self.state:
            self.state = state
            self._emit(StateChanged(state))

    # --- the call -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state is SessionState.ENDED

    @property
    def current_node(self) -> Node:
        return self.dialog.current

    def start(self) -> PersonaLine:
        """Begin the call: the persona says the start node's line."""
        self._require(SessionState.READY, "start")
        self._log.info("practice started")
        return self._say(self.dialog.current)

    def persona_finished(self) -> None:
        """The voice finished the current line (only needed when `speaker` returned None)."""
        self._require(SessionState.PERSONA_SPEAKING, "persona_finished")
        self._end_line(measured=True)

    def answer(self, audio: Path, *, offset: float | None = None) -> RepTurn:
        """The rep's whole turn, recorded in `audio`: transcribe it and move the dialog on.

        `offset` is when the recording started, in seconds into the call (default: when the
        persona's line ended). Blocks while transcribing: call it off the GUI thread. A turn
        that cannot be transcribed comes back with status FAILED and the reason; it does not
        raise (PracticeError only if the session is not waiting for the rep).
        """
        if self.state is SessionState.PERSONA_SPEAKING:
            self._end_line(measured=True)  # the rep spoke before the voice was reported done
        self._require(SessionState.WAITING_FOR_REP, "answer")
        start = self._timeline.position if offset is None else max(offset, 0.0)
        turn = RepTurn(len(self.rep_turns), self.dialog.current.id, Path(audio), seconds(start))
        self.rep_turns.append(turn)
        self._cancelled.clear()  # a cancel() from before this turn is not meant for it
        self._set_state(SessionState.TRANSCRIBING)
        self._transcribe(turn)
        self._timeline.position = max(self._timeline.position, seconds(turn.offset + turn.duration))
        self._move_on(turn)
        return turn

    def hang_up(self) -> PracticeResult:
        """The rep ends the call now, whatever node the dialog is at."""
        if self.state is SessionState.READY:
            raise PracticeError("the call has not started")
        if self.state is SessionState.TRANSCRIBING:
            raise PracticeError("a turn is being transcribed; cancel() it first")
        if self.state is SessionState.PERSONA_SPEAKING:
            self._end_line(measured=True)
        if not self.finished:
            self._end(EndReason.HUNG_UP)
        return self.result()

    def cancel(self) -> None:
        """Stop the running transcription soon (thread-safe): that turn ends as FAILED.

        During `retry_failed` it stops the retry: the turns not yet done stay FAILED.
        """
        self._cancelled.set()

    def result(self) -> PracticeResult:
        """Transcript, KPIs and provisional score of the call so far (final once it ended)."""
        transcript = build_transcript(self._transcript_turns())
        kpis = compute_kpis(transcript, self.scenario.rubric)
        breakdown = score(self.scenario.rubric, kpis, self.scenario.pass_score, transcript)
        return PracticeResult(
            scenario_id=self.scenario.id,
            transcript=transcript,
            kpis=kpis,
            score=breakdown,
            path=tuple(self.dialog.path),
            persona_lines=tuple(self.persona_lines),
            rep_turns=tuple(self.rep_turns),
            end_reason=self.end_reason,
        )

    def retry_failed(self, transcriber: TranscriberLike | None = None) -> list[RepTurn]:
        """Transcribe the failed turns' kept audio again; the dialog's path stays as it was.

        Returns the turns that are now transcribed. Call `result()` for the new numbers.
        """
        if self.state is SessionState.TRANSCRIBING:
            raise PracticeError("a turn is being transcribed; wait for it first")
        if transcriber is not None:
            self.transcriber = transcriber
        self._cancelled.clear()
        fixed = []
        for turn in self.rep_turns:
            if turn.status is TurnStatus.FAILED:
                self._transcribe(turn)
                if turn.status is not TurnStatus.FAILED:
                    fixed.append(turn)
        return fixed

    # --- internals ------------------------------------------------------------------------------

    def _require(self, state: SessionState, action: str) -> None:
        if self.state is not state:
            raise PracticeError(f"cannot {action}: the session is {self.state.value}")

    def _say(self, node: Node) -> PersonaLine:
        line = PersonaLine(
            len(self.persona_lines), node.id, node.persona_line, self._timeline.position
        )
        self.persona_lines.append(line)
        self._set_state(SessionState.PERSONA_SPEAKING)
        self._emit(PersonaSpeaks(line))
        spoken = self.speaker(line.text) if self.speaker is not None else None
        if spoken is not None:
            line.end = seconds(line.start + max(spoken, 0.0))
            self._end_line(measured=False)
        elif self.speaker is None:
            # No voice: the line lasts as long as a voice would take (the transcript needs one).
            line.end = seconds(line.start + estimate_speech_seconds(line.text))
            self._end_line(measured=False)
        else:
            self._timeline.speaking_since = self.clock()
        return line

    def _end_line(self, *, measured: bool) -> None:
        line = self.persona_lines[-1]
        if measured:
            since = self._timeline.speaking_since
            spoken = (
                self.clock() - since if since is not None else estimate_speech_seconds(line.text)
            )
            line.end = seconds(line.start + max(spoken, 0.0))
        self._timeline.speaking_since = None
        assert line.end is not None
        self._timeline.position = max(self._timeline.position, line.end)
        if self.dialog.finished:
            self._end(EndReason.END_NODE)
        else:
            self._set_state(SessionState.WAITING_FOR_REP)

    def _transcribe(self, turn: RepTurn) -> None:
        self._emit(TranscriptionStarted(turn))
        try:
            samples = load_audio(turn.audio)
            turn.duration = seconds(len(samples) / SAMPLE_RATE)
            utterance = self.transcriber.transcribe(
                samples,
                progress=lambda fraction: self._emit(TranscriptionProgress(turn, fraction)),
                cancelled=self._cancelled.is_set,
                vocabulary=self.scenario.vocabulary,
            )
        except AudioError as error:
            self._fail(turn, str(error))
        except Exception as error:  # a transcriber bug must not end the call; the audio stays
            self._log.exception("transcription failed", turn=turn.index, audio=str(turn.audio))
            self._fail(turn, f"transcription failed unexpectedly ({type(error).__name__}: {error})")
        else:
            turn.utterance = utterance
            turn.error = None
            turn.status = TurnStatus.TRANSCRIBED if utterance.words else TurnStatus.SILENT

    def _fail(self, turn: RepTurn, reason: str) -> None:
        turn.status = TurnStatus.FAILED
        turn.error = reason
        self._log.warning("rep turn not transcribed", turn=turn.index, reason=reason)

    def _move_on(self, turn: RepTurn) -> None:
        before = self.dialog.current
        try:
            after = self.dialog.advance(turn.text)
        except TurnLimitReached as error:
            self._log.warning("practice stopped", reason=str(error))
            self._emit(RepTurnDone(turn))
            self._end(EndReason.TURN_LIMIT)
            return
        turn.step = self.dialog.steps[-1]
        self._emit(RepTurnDone(turn))
        if after is before and turn.step.choice is None:
            # No edge matched and there is no default: the persona waits, silently, for more.
            self._set_state(SessionState.WAITING_FOR_REP)
        else:
            self._say(after)

    def _end(self, reason: EndReason) -> None:
        self.end_reason = reason
        self._set_state(SessionState.ENDED)
        result = self.result()
        self._log.info(
            "practice ended",
            reason=reason.value,
            path=list(result.path),
            score=str(result.score["score"]),
            failed_turns=len(result.failed_turns),
        )
        self._emit(CallEnded(result))

    def _transcript_turns(self) -> list[dict[str, Any]]:
        turns = [line.turn() for line in self.persona_lines]
        for rep in self.rep_turns:
            if rep.utterance is not None:
                built = rep_turn(rep.utterance, rep.offset)
                if built is not None:
                    turns.append(built)
        return turns
