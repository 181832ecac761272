"""Try a scenario from the editor: the real practice engine, answered by typing, by a WAV file or
through the microphone, with which edge each answer took and why, and a provisional score by the
edited rubric.

Nothing is saved: a try creates no attempt, writes nothing to the cache or the recordings
folder, and keeps its few files (the typed turns' silent audio, the microphone's recordings)
in a temporary folder, `scratch`, that `close()` removes. No Qt: ui/studio/try_it.py is the
dialog over it.

    run = TryRun(editor.edited(), transcriber)   # transcriber: only needed for WAV answers
    run.start()                                  # the persona's first line
    step = run.say("Hi Dana, I am calling from Coachdesk")
    step.reason                                  # 'keyword "calling" (edge 1: keywords …)'
    step = run.answer_wav(Path("answer.wav"))    # blocks while transcribing: a worker thread
    step = run.answer_wav(recorded, source=AnswerSource.MICROPHONE)  # a take in run.scratch
    outcome = run.outcome()                      # transcript and score by the edited rubric
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from app.branching import Choice
from app.practice import (
    EndReason,
    Event,
    PersonaLine,
    PracticeResult,
    PracticeSession,
    RepTurn,
    SessionState,
    TranscriberLike,
    TranscriptionProgress,
    TurnStatus,
)
from app.scenarios import Scenario
from app.transcript import estimate_speech_seconds
from audio.decode import SAMPLE_RATE
from audio.errors import AudioError
from audio.transcribe import Utterance, Word

# A typed answer has no audio, so it is given the time a rep would take to say it: people speak
# about 150 words a minute on a call (the rubrics' ideal pace is 130-175).
TYPED_WORDS_PER_MINUTE = 150
NO_EDGE = "no edge matched: the persona waits"
DEFAULT_EDGE = "default edge (no condition matched)"
TURN_LIMIT = "turn limit reached: the call stops here"
NOTHING_SAVED = "Nothing is saved: this is a try."


class AnswerSource(StrEnum):
    TYPED = "typed"
    WAV = "wav"
    MICROPHONE = "microphone"  # recorded in the try (audio.capture.Recorder), then as a WAV


class NoSpeechModel(AudioError):
    """A WAV answer was given to a try that has no transcriber."""


@dataclass(frozen=True)
class TryStep:
    """One rep turn of a try: the line answered, the answer, and where the dialog went and why."""

    index: int  # 0 for the rep's first answer
    node_id: str  # the node whose line the rep answered
    persona_line: str
    answer: str  # what was typed, or what the WAV was transcribed to
    source: AnswerSource
    status: TurnStatus  # FAILED: the WAV could not be transcribed (`error` says why)
    error: str | None
    choice: Choice | None  # the edge taken; None: none matched (or the turn limit)
    to_node: str | None  # where the dialog went; None: the turn limit ended the call
    reason: str  # why, in words: the keyword/phrase/intent, the default edge, or the wait
    reply: str | None  # the persona's next line; None when it waits or the call stopped


@dataclass(frozen=True)
class TryOutcome:
    """The try's transcript and its provisional score by the scenario's (edited) rubric."""

    result: PracticeResult
    steps: tuple[TryStep, ...]

    @property
    def transcript(self) -> dict[str, Any]:
        return self.result.transcript

    @property
    def score(self) -> dict[str, Any]:
        """The breakdown `score_attempt` would store (app.scoring.score); `score` may be None."""
        return self.result.score


def explain(choice: Choice | None) -> str:
    """Why a turn took the edge it took, as the branching chose it (app.branching.choose)."""
    if choice is None:
        return NO_EDGE
    when = choice.edge.when
    if when is None:
        return DEFAULT_EDGE
    kind = {"keywords": "keyword", "phrases": "phrase", "intent": "intent"}[when.kind]
    return f'{kind} "{choice.matched}" (edge {choice.edge.index + 1}: {when.describe()})'


def typed_utterance(text: str) -> Utterance:
    """A typed answer as the transcriber would give it: its words spread evenly over the time
    saying them takes at TYPED_WORDS_PER_MINUTE (at least one word's time), confidence 1."""
    parts = text.split()
    duration = typed_seconds(text)
    step = duration / len(parts) if parts else 0.0
    words = tuple(
        Word(f" {part}", round(i * step, 3), round((i + 1) * step, 3), 1.0)
        for i, part in enumerate(parts)
    )
    return Utterance(" ".join(parts), words, duration)


def typed_seconds(text: str) -> float:
    """How long a typed answer lasts on the try's timeline (it has no audio to measure)."""
    return estimate_speech_seconds(text, TYPED_WORDS_PER_MINUTE)


class _Answers:
    """The session's transcriber: a typed answer's words when one is pending, else the app's
    transcriber for a WAV answer."""

    def __init__(self, transcriber: TranscriberLike | None) -> None:
        self.transcriber = transcriber
        self.typed: Utterance | None = None

    def transcribe(
        self,
        audio: Path | np.ndarray,
        *,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        vocabulary: Sequence[str] = (),
    ) -> Utterance:
        typed, self.typed = self.typed, None
        if typed is not None:
            return typed
        if self.transcriber is None:
            raise NoSpeechModel("No speech model is set up for this try: type the answer instead.")
        return self.transcriber.transcribe(
            audio, progress=progress, cancelled=cancelled, vocabulary=vocabulary
        )


class TryRun:
    """One try of a scenario on the real practice engine (app.practice.PracticeSession).

    Persona lines last as long as a voice would take to say them (the engine's estimate),
    whether or not the dialog speaks them aloud, so a try's timeline and score do not depend on
    the speakers. A typed answer is given to the engine as a recording of silence as long as
    saying it takes (`typed_seconds`), "transcribed" to the typed words: the engine, its
    timeline, the dialog and the scoring are exactly those of a real call. Methods are called
    from one thread at a time; `answer_wav` blocks while transcribing, `cancel` may be called
    from any thread.
    """

    def __init__(self, scenario: Scenario, transcriber: TranscriberLike | None = None) -> None:
        self.scenario = scenario
        self._answers = _Answers(transcriber)
        self.session = PracticeSession(scenario, self._answers)
        self.steps: list[TryStep] = []
        self._folder = tempfile.TemporaryDirectory(prefix="coachdesk-try-")
        self._progress: Callable[[float], None] | None = None
        self.session.subscribe(self._on_event)

    # The call ------------------------------------------------------------------------------
    def start(self) -> PersonaLine:
        return self.session.start()

    @property
    def finished(self) -> bool:
        return self.session.finished

    @property
    def persona_lines(self) -> list[PersonaLine]:
        return self.session.persona_lines

    @property
    def waiting(self) -> bool:
        """The rep's turn (the call started and has not ended)."""
        return self.session.state is SessionState.WAITING_FOR_REP

    def say(self, text: str) -> TryStep:
        """The rep's typed answer: the dialog moves on as if it had been said."""
        silence = Path(self._folder.name) / f"typed-{len(self.steps) + 1:02d}.wav"
        samples = np.zeros(round(typed_seconds(text) * SAMPLE_RATE), dtype=np.float32)
        soundfile.write(silence, samples, SAMPLE_RATE, subtype="PCM_16")
        self._answers.typed = typed_utterance(text)
        try:
            turn = self.session.answer(silence)
        finally:
            self._answers.typed = None
        return self._record(turn, AnswerSource.TYPED, text)

    def answer_wav(
        self,
        path: Path,
        progress: Callable[[float], None] | None = None,
        *,
        source: AnswerSource = AnswerSource.WAV,
    ) -> TryStep:
        """The rep's answer spoken in a WAV (or any audio file the app reads: a microphone
        take's FLAC too, `source` MICROPHONE), transcribed by the app's transcriber; a file that
        cannot be read or transcribed is a FAILED turn (the dialog then hears nothing), as in a
        real call. Blocks: call it off the GUI thread."""
        self._progress = progress
        try:
            turn = self.session.answer(Path(path))
        finally:
            self._progress = None
        return self._record(turn, source, turn.text)

    @property
    def scratch(self) -> Path:
        """The try's temporary folder, where the microphone's takes go (removed by close())."""
        return Path(self._folder.name)

    def cancel(self) -> None:
        """Stop a running transcription soon (thread-safe): that answer ends as FAILED."""
        self.session.cancel()

    def outcome(self) -> TryOutcome:
        """The transcript and provisional score so far; a call still going is hung up first."""
        if not self.finished and self.session.state is not SessionState.READY:
            self.session.hang_up()
        return TryOutcome(self.session.result(), tuple(self.steps))

    @property
    def end_reason(self) -> EndReason | None:
        return self.session.end_reason

    def close(self) -> None:
        """Remove the try's temporary files."""
        self._folder.cleanup()

    # Internals -----------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        progress = self._progress
        if isinstance(event, TranscriptionProgress) and progress is not None:
            progress(event.fraction)

    def _record(self, turn: RepTurn, source: AnswerSource, answer: str) -> TryStep:
        node = self.session.dialog.nodes[turn.node_id]
        step = turn.step
        if step is None:  # the dialog refused the turn: the turn limit ended the call
            choice, to_node, reason = None, None, TURN_LIMIT
        else:
            choice, to_node, reason = step.choice, step.to_node, explain(step.choice)
        if turn.status is TurnStatus.FAILED:
            reason = f"the answer could not be transcribed, so nothing was heard; {reason}"
        # The engine has the persona speak whenever an edge was taken (a loop back included).
        reply = self.session.persona_lines[-1].text if choice is not None else None
        tried = TryStep(
            index=turn.index,
            node_id=turn.node_id,
            persona_line=node.persona_line,
            answer=answer,
            source=source,
            status=turn.status,
            error=turn.error,
            choice=choice,
            to_node=to_node,
            reason=reason,
            reply=reply,
        )
        self.steps.append(tried)
        return tried
