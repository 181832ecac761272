"""Practice sessions with real speech: espeak-ng answers, the real transcriber and database."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import soundfile

from app.kpis import KPI_NAMES, tokenize
from app.practice import (
    CallEnded,
    EndReason,
    Event,
    PersonaSpeaks,
    PracticeError,
    PracticeSession,
    RepTurnDone,
    SessionState,
    StateChanged,
    TranscriptionProgress,
    TranscriptionStarted,
    TurnStatus,
)
from app.scenarios import Scenario, find_scenario, load_scenarios
from app.transcript import estimate_speech_seconds
from audio.decode import SAMPLE_RATE
from audio.transcribe import Transcriber, TranscriberSettings

Speech = Callable[[str], Path]


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """The default transcriber (bundled tiny.en, int8, fillers kept), loaded once."""
    transcriber = Transcriber(TranscriberSettings())
    transcriber.load()
    return transcriber


def speech_in(folder: Path) -> Speech:
    """speech(text) -> a WAV of espeak-ng saying it (22.05 kHz, as espeak writes it); made once."""
    made: dict[str, Path] = {}

    def say(text: str) -> Path:
        if text not in made:
            path = folder / f"answer-{len(made)}.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True)
            made[text] = path
        return made[text]

    return say


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return speech_in(tmp_path_factory.mktemp("answers"))


@pytest.fixture(scope="session")
def silence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of digital silence: a turn in which the rep said nothing."""
    path = tmp_path_factory.mktemp("silence") / "silence.wav"
    soundfile.write(path, np.zeros(2 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    return path


@pytest.fixture
def corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage that is not audio at all" * 20)
    return path


def scenario(key: str) -> Scenario:
    return find_scenario(load_scenarios(), key)


def custom(branching: dict[str, Any]) -> Scenario:
    """The cold-call scenario with another dialog."""
    base = scenario("cold-call")
    return Scenario(base.id, base.title, base.persona, branching, base.rubric, base.pass_score)


class EventLog:
    """Collects a session's events."""

    def __init__(self, session: PracticeSession) -> None:
        self.events: list[Event] = []
        session.subscribe(self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def kinds(self) -> list[str]:
        """Event names in order, progress reports left out (their number depends on segments)."""
        return [
            type(e).__name__ if not isinstance(e, StateChanged) else e.state.value
            for e in self.events
            if not isinstance(e, TranscriptionProgress)
        ]


def play(session: PracticeSession, answers: list[Path]) -> None:
    session.start()
    for answer in answers:
        session.answer(answer)


@pytest.fixture(scope="module")
def db(database_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        yield conn


def assert_database_agrees(db: psycopg.Connection, scenario: Scenario, result: Any) -> None:
    """The server accepts the transcript and computes the same KPIs and breakdown from it."""
    transcript = json.dumps(result.transcript)
    db.execute("select private.validate_transcript(%s::jsonb)", (transcript,))
    kpis, breakdown = db.execute(
        """
        select public.compute_kpis(%(t)s::jsonb, s.rubric)::text,
               private.score_breakdown(s.rubric, public.compute_kpis(%(t)s::jsonb, s.rubric),
                                       %(t)s::jsonb, s.pass_score)::text
        from public.scenarios s where s.id = %(id)s
        """,
        {"t": transcript, "id": scenario.id},
    ).fetchone()

    def exact(document: Any) -> Any:
        return json.loads(json.dumps(document, default=str))

    assert exact(result.kpis) == exact(json.loads(kpis, parse_float=Decimal))
    assert exact(result.score) == exact(json.loads(breakdown, parse_float=Decimal))


# --- the bundled scenarios -----------------------------------------------------------------------


def test_the_bundled_scenarios_are_the_seeded_ones(admin_conn):
    rows = admin_conn.execute(
        "select id::text, org_id::text, title, description, difficulty::text, status::text, "
        "pass_score, persona::text, branching::text, rubric::text from public.scenarios"
    ).fetchall()
    bundled = {s.id: s for s in load_scenarios()}
    assert set(bundled) == {row["id"] for row in rows}
    for row in rows:
        mine = bundled[row["id"]]
        assert (mine.org_id, mine.title, mine.description, mine.difficulty, mine.status) == (
            row["org_id"],
            row["title"],
            row["description"],
            row["difficulty"],
            row["status"],
        )
        assert str(mine.pass_score) == str(row["pass_score"])
        for column in ("persona", "branching", "rubric"):
            assert getattr(mine, column) == json.loads(row[column], parse_float=Decimal), column


# --- whole calls with real speech ----------------------------------------------------------------

COLD_CALL_CLOSE = [
    "Hi Dana, my name is Sam, and I am calling from Coachdesk.",
    "We help sales teams save time and reduce the cost of training.",
    "Could we book a short demo meeting next Tuesday?",
]


def test_a_scripted_call_follows_its_branch_to_the_close(transcriber, speech, db):
    cold_call = scenario("cold-call")
    session = PracticeSession(cold_call, transcriber)
    events = EventLog(session)
    play(session, [speech(text) for text in COLD_CALL_CLOSE])

    assert session.finished
    result = session.result()
    assert result.path == ("open", "why", "interest", "close")
    assert result.end_reason is EndReason.END_NODE and result.complete
    assert [turn.status for turn in result.rep_turns] == [TurnStatus.TRANSCRIBED] * 3
    moves = [(t.step.from_node, t.step.to_node, t.step.choice.describe()) for t in result.rep_turns]
    assert moves == [
        ("open", "why", "keyword 'calling'"),
        ("why", "interest", "keyword 'save'"),
        ("interest", "close", "keyword 'meeting'"),  # the condition's first word said
    ]
    assert events.kinds() == [
        "persona_speaking",
        "PersonaSpeaks",
        "waiting_for_rep",
        *(["transcribing", "TranscriptionStarted", "RepTurnDone", "persona_speaking"]),
        "PersonaSpeaks",
        "waiting_for_rep",
        *(["transcribing", "TranscriptionStarted", "RepTurnDone", "persona_speaking"]),
        "PersonaSpeaks",
        "waiting_for_rep",
        *(["transcribing", "TranscriptionStarted", "RepTurnDone", "persona_speaking"]),
        "PersonaSpeaks",
        "ended",
        "CallEnded",
    ]
    progress = [event.fraction for event in events.of(TranscriptionProgress)]
    assert progress and progress[-1] == 1.0
    assert events.of(CallEnded)[0].result.transcript == result.transcript

    turns = result.transcript["turns"]
    assert [turn["speaker"] for turn in turns] == ["persona", "rep"] * 3 + ["persona"]
    lines = [event.line.text for event in events.of(PersonaSpeaks)]
    assert lines == [turn["text"] for turn in turns if turn["speaker"] == "persona"]
    # One timeline: each line starts where the rep's recording ended, each recording where the
    # line before it ended; without a voice, a line lasts as long as a voice would take.
    first_line, first_answer = result.persona_lines[0], result.rep_turns[0]
    assert (first_line.start, first_line.end) == (0.0, estimate_speech_seconds(first_line.text))
    assert first_answer.offset == first_line.end
    assert result.persona_lines[1].start == pytest.approx(
        first_answer.offset + first_answer.duration
    )
    assert (
        first_answer.offset <= turns[1]["start"] < turns[1]["end"] <= result.persona_lines[1].start
    )

    assert set(KPI_NAMES) <= set(result.kpis)
    assert result.kpis["rep_word_count"] >= 25
    assert result.kpis["questions_asked"] >= 1
    assert result.kpis["keyword_coverage"] == Decimal("1.0000")  # save/reduce and demo/meeting
    assert result.score["score"] is not None and result.score["score"] > 0
    assert_database_agrees(db, cold_call, result)


def test_the_persona_is_heard_by_name_in_the_call(transcriber, speech):
    """The session gives the transcriber the scenario's vocabulary: tiny.en alone hears
    "Hi Dana" as "Hi, Baylor" (tests/audio/test_audio_vocabulary.py)."""
    session = PracticeSession(scenario("cold-call"), transcriber)
    play(session, [speech(COLD_CALL_CLOSE[0])])
    [turn] = session.rep_turns
    assert turn.utterance is not None
    assert "dana" in tokenize(turn.utterance.text)


def test_an_objection_takes_the_other_branch(transcriber, speech, db):
    incumbent = scenario("objection")
    session = PracticeSession(incumbent, transcriber)
    play(session, [speech("But we are much cheaper than they are.")])
    result = session.result()
    assert result.path == ("open", "annoyed")
    assert result.rep_turns[0].step.choice.describe() == "intent 'objection'"
    assert [turn["speaker"] for turn in result.transcript["turns"]] == ["persona", "rep", "persona"]
    assert result.complete
    assert_database_agrees(db, incumbent, result)


# --- turns that go wrong -------------------------------------------------------------------------


def test_a_turn_that_cannot_be_read_is_failed_and_the_call_goes_on(transcriber, speech, corrupt):
    session = PracticeSession(scenario("cold-call"), transcriber)
    events = EventLog(session)
    play(session, [corrupt, speech("Why should I not?")])

    failed, second = session.rep_turns
    assert failed.status is TurnStatus.FAILED
    assert str(corrupt) in failed.error and failed.utterance is None
    assert corrupt.exists()  # the audio is kept
    assert failed.step.choice.describe() == "default"  # nothing understood: the default edge
    assert second.status is TurnStatus.TRANSCRIBED
    assert session.dialog.path == ["open", "why", "interest"]
    assert session.state is SessionState.WAITING_FOR_REP
    result = session.result()
    assert result.end_reason is None and not result.complete
    assert result.failed_turns == (failed,)
    # The failed turn is not in the transcript; the rest of the call is.
    assert [turn["speaker"] for turn in result.transcript["turns"]] == [
        "persona",
        "persona",
        "rep",
        "persona",
    ]
    assert events.of(RepTurnDone)[0].turn is failed


def test_a_model_that_will_not_load_fails_turns_that_can_be_transcribed_later(
    tmp_path, transcriber, speech
):
    broken = Transcriber(TranscriberSettings(model_path=tmp_path / "no-model"))
    session = PracticeSession(scenario("cold-call"), broken)
    answers = [speech(COLD_CALL_CLOSE[0]), speech(COLD_CALL_CLOSE[1])]
    play(session, answers)

    assert [turn.status for turn in session.rep_turns] == [TurnStatus.FAILED] * 2
    assert "could not be loaded" in session.rep_turns[0].error
    assert "recording is kept" in session.rep_turns[0].error
    assert session.rep_turns[0].duration > 1  # the audio was read: only the model failed
    assert session.result().path == ("open", "why", "brushoff")  # defaults all the way
    assert session.finished

    fixed = session.retry_failed(transcriber)
    assert fixed == session.rep_turns
    result = session.result()
    assert result.complete
    assert result.path == ("open", "why", "brushoff")  # the call as it happened
    assert "calling" in result.rep_turns[0].text.lower()
    assert [turn["speaker"] for turn in result.transcript["turns"]] == [
        "persona",
        "rep",
        "persona",
        "rep",
        "persona",
    ]


def test_cancel_stops_a_running_transcription(transcriber, speech):
    session = PracticeSession(scenario("cold-call"), transcriber)
    unsubscribe = session.subscribe(
        lambda event: session.cancel() if isinstance(event, TranscriptionProgress) else None
    )
    session.start()
    turn = session.answer(speech("Hi, this is Sam. I am calling about your team's training."))
    assert turn.status is TurnStatus.FAILED
    assert turn.error == "Transcription was cancelled. The recording is kept."
    assert session.dialog.path == ["open", "why"]  # the default edge

    unsubscribe()
    session.cancel()  # nothing is running: the next turn is not cancelled by it
    assert session.answer(speech(COLD_CALL_CLOSE[1])).status is TurnStatus.TRANSCRIBED


def test_a_silent_turn_is_no_transcript_turn_and_a_node_without_default_waits(
    transcriber, speech, silence
):
    waiting = custom(
        {
            "start": "open",
            "nodes": [
                {
                    "id": "open",
                    "persona_line": "Go on.",
                    "edges": [{"to": "close", "when": {"keywords": ["demo"]}}],
                },
                {"id": "close", "persona_line": "Fine.", "end": True},
            ],
        }
    )
    session = PracticeSession(waiting, transcriber)
    events = EventLog(session)
    play(session, [silence])
    assert session.rep_turns[0].status is TurnStatus.SILENT
    assert session.rep_turns[0].step.choice is None
    assert session.state is SessionState.WAITING_FOR_REP
    assert len(events.of(PersonaSpeaks)) == 1  # the persona does not repeat the line

    # tiny.en hears "a quick demo of the product" as "a quick memo on the product" on every
    # run (docs/benchmarks.md, model choice); this test is about the waiting, not the hearing.
    session.answer(speech("I would like to show you a demo of the product."))
    result = session.result()
    assert result.path == ("open", "close")
    assert [turn["speaker"] for turn in result.transcript["turns"]] == ["persona", "rep", "persona"]
    # The silent turn still took its time: the second recording starts after it.
    assert session.rep_turns[1].offset == pytest.approx(session.rep_turns[0].offset + 2.0)


def test_a_dialog_that_never_ends_is_stopped_at_the_turn_limit(transcriber, silence):
    loop = custom(
        {
            "start": "a",
            "nodes": [
                {"id": "a", "persona_line": "Hm?", "edges": [{"to": "b", "default": True}]},
                {"id": "b", "persona_line": "Yes?", "edges": [{"to": "a", "default": True}]},
                {"id": "end", "persona_line": "Bye.", "end": True},
            ],
        }
    )
    session = PracticeSession(loop, transcriber, max_turns=2)
    events = EventLog(session)
    play(session, [silence, silence, silence])
    assert session.finished
    assert session.end_reason is EndReason.TURN_LIMIT
    assert events.of(CallEnded)[0].result.path == ("a", "b", "a")
    with pytest.raises(PracticeError, match="cannot answer: the session is ended"):
        session.answer(silence)


# --- the voice, the clock and the states ---------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_lengths_come_from_the_speaker_or_the_clock(transcriber, silence):
    said: list[str] = []

    def speaker(text: str) -> float:
        said.append(text)
        return 1.5

    timed = PracticeSession(scenario("cold-call"), transcriber, speaker=speaker)
    timed.start()
    assert said == ["Dana speaking. Who is this?"]
    assert (timed.persona_lines[0].end, timed.state) == (1.5, SessionState.WAITING_FOR_REP)

    clock = Clock()
    asynchronous = PracticeSession(
        scenario("cold-call"), transcriber, speaker=lambda text: None, clock=clock
    )
    asynchronous.start()
    assert asynchronous.state is SessionState.PERSONA_SPEAKING
    assert asynchronous.persona_lines[0].end is None
    clock.now += 2.25
    asynchronous.persona_finished()
    assert asynchronous.persona_lines[0].end == 2.25
    turn = asynchronous.answer(silence, offset=3.0)  # recording started 0.75 s after the line
    assert (turn.offset, asynchronous.persona_lines[1].start) == (3.0, 5.0)
    clock.now += 1.0
    # The rep answers before the voice is reported done: the line ends when the answer comes.
    asynchronous.answer(silence)
    assert asynchronous.persona_lines[1].end == 6.0
    assert asynchronous.rep_turns[1].offset == 6.0


def test_calls_out_of_order_are_refused(transcriber, silence):
    session = PracticeSession(scenario("cold-call"), transcriber)
    with pytest.raises(PracticeError, match="cannot answer: the session is ready"):
        session.answer(silence)
    with pytest.raises(PracticeError, match="the call has not started"):
        session.hang_up()
    session.start()
    with pytest.raises(PracticeError, match="cannot start: the session is waiting_for_rep"):
        session.start()
    with pytest.raises(PracticeError, match="cannot persona_finished"):
        session.persona_finished()


def test_hanging_up_ends_the_call_early(transcriber, speech):
    session = PracticeSession(scenario("cold-call"), transcriber)
    events = EventLog(session)
    play(session, [speech(COLD_CALL_CLOSE[0])])
    result = session.hang_up()
    assert (result.end_reason, result.path, result.complete) == (
        EndReason.HUNG_UP,
        ("open", "why"),
        False,
    )
    assert session.finished and len(events.of(CallEnded)) == 1
    assert session.hang_up().end_reason is EndReason.HUNG_UP  # again: the same call, no new event
    assert len(events.of(CallEnded)) == 1
    assert events.of(TranscriptionStarted)[0].turn is result.rep_turns[0]
