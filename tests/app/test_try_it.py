"""A try of a scenario on the real practice engine: typed and WAV answers, the edge each took and
why (as app.branching chooses), and the provisional score by the edited rubric."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from app.branching import choose, parse_nodes
from app.client.demo import COLD_CALL_ANSWERS
from app.kpis import compute_kpis
from app.practice import EndReason, TurnStatus
from app.rubric_edit import from_document, new_keywords_criterion, preview, to_document
from app.scenarios import load_scenarios
from app.scoring import score
from app.try_it import (
    DEFAULT_EDGE,
    NO_EDGE,
    TYPED_WORDS_PER_MINUTE,
    AnswerSource,
    TryRun,
    explain,
    typed_seconds,
)
from audio.transcribe import Transcriber, TranscriberSettings

COLD_CALL = next(s for s in load_scenarios() if s.title.startswith("Cold call"))


@pytest.fixture
def run() -> Iterator[TryRun]:
    tried = TryRun(COLD_CALL)
    yield tried
    tried.close()


def test_typed_answers_walk_the_cold_call_to_its_end(run: TryRun) -> None:
    assert run.start().text == "Dana speaking. Who is this?"
    steps = [run.say(answer) for answer in COLD_CALL_ANSWERS]

    assert run.finished and run.end_reason is EndReason.END_NODE
    assert [s.node_id for s in steps] == ["open", "why", "interest"]
    assert [s.to_node for s in steps] == ["why", "interest", "close"]
    assert [s.reason for s in steps] == [
        'keyword "calling" (edge 1: keywords calling, name, from)',
        'keyword "save" (edge 1: keywords save, cost, time, reduce, faster)',
        'keyword "meeting" (edge 1: keywords meeting, demo, call, calendar)',
    ]
    assert steps[-1].reply == "Fine, send an invite for Thursday."
    assert all(s.source is AnswerSource.TYPED and s.status is TurnStatus.TRANSCRIBED for s in steps)
    assert [line.node_id for line in run.persona_lines] == ["open", "why", "interest", "close"]


def test_each_edge_and_reason_is_what_the_branching_chooses(run: TryRun) -> None:
    nodes = parse_nodes(COLD_CALL.branching)
    run.start()
    answers = ("Hello.", "How do you handle onboarding today?", "Let me think about it.")
    steps = [run.say(answer) for answer in answers]
    for step, answer in zip(steps, answers, strict=True):
        chosen = choose(nodes[step.node_id], answer)
        assert step.choice == chosen
        assert step.reason == explain(chosen)
    assert steps[0].reason == DEFAULT_EDGE and steps[0].to_node == "why"
    assert steps[1].reason == 'intent "question" (edge 2: intent question)'
    assert steps[2].reason == DEFAULT_EDGE and steps[2].to_node == "brushoff"
    assert run.end_reason is EndReason.END_NODE


def test_the_score_is_the_edited_rubrics_preview_of_the_same_transcript(run: TryRun) -> None:
    run.start()
    for answer in COLD_CALL_ANSWERS:
        run.say(answer)
    outcome = run.outcome()

    transcript, rubric = outcome.transcript, COLD_CALL.rubric
    criteria = from_document(rubric)
    assert outcome.score == preview(criteria, transcript, COLD_CALL.pass_score, rubric)
    assert outcome.score == score(
        rubric, compute_kpis(transcript, rubric), COLD_CALL.pass_score, transcript
    )
    assert [t["speaker"] for t in transcript["turns"]] == ["persona", "rep"] * 3 + ["persona"]
    assert outcome.score["score"] is not None


def test_a_typed_answer_lasts_as_long_as_saying_it_takes(run: TryRun) -> None:
    run.start()
    answer = COLD_CALL_ANSWERS[0]
    run.say(answer)
    (rep,) = [t for t in run.outcome().transcript["turns"] if t["speaker"] == "rep"]
    words = len(answer.split())
    assert typed_seconds(answer) == pytest.approx(words * 60 / TYPED_WORDS_PER_MINUTE)
    assert rep["end"] - rep["start"] == pytest.approx(typed_seconds(answer), abs=0.002)
    assert rep["text"] == answer


def test_without_a_matching_edge_or_a_default_the_persona_waits() -> None:
    branching = copy.deepcopy(COLD_CALL.branching)
    opening = next(n for n in branching["nodes"] if n["id"] == "open")
    opening["edges"] = [e for e in opening["edges"] if not e.get("default")]
    tried = TryRun(replace(COLD_CALL, branching=branching))
    try:
        tried.start()
        waited = tried.say("Good morning.")
        assert waited.reason == NO_EDGE and waited.choice is None
        assert waited.to_node == "open" and waited.reply is None
        assert tried.waiting and len(tried.persona_lines) == 1
        moved = tried.say("Sam here, calling from Coachdesk.")
        assert moved.node_id == "open" and moved.to_node == "why"
        assert moved.reason.startswith('keyword "calling"')
    finally:
        tried.close()


def test_an_edited_rubric_changes_the_score(run: TryRun) -> None:
    # The same answers, tried on the scenario with a rubric edited in the editor: half the
    # weight now on key points the rep never mentions.
    criteria = from_document(COLD_CALL.rubric)
    unmet = new_keywords_criterion([["security"], ["compliance"]], 50, [c.id for c in criteria])
    edited_criteria = [replace(c, percent=c.percent // 2) for c in criteria] + [unmet]
    edited = replace(COLD_CALL, rubric=to_document(edited_criteria, COLD_CALL.rubric))
    tried = TryRun(edited)
    try:
        for engine in (run, tried):
            engine.start()
            for answer in COLD_CALL_ANSWERS:
                engine.say(answer)
        original, changed = run.outcome(), tried.outcome()
    finally:
        tried.close()
    assert original.transcript == changed.transcript
    assert changed.score["score"] != original.score["score"]
    assert changed.score["score"] < original.score["score"]
    assert changed.score == preview(
        edited_criteria, changed.transcript, COLD_CALL.pass_score, COLD_CALL.rubric
    )
    assert [c["id"] for c in changed.score["criteria"]][-1] == unmet.id


def test_outcome_of_a_call_still_going_hangs_up(run: TryRun) -> None:
    run.start()
    run.say(COLD_CALL_ANSWERS[0])
    outcome = run.outcome()
    assert run.end_reason is EndReason.HUNG_UP and run.finished
    assert outcome.result.path == ("open", "why") and len(outcome.steps) == 1


def test_close_removes_the_trys_files(run: TryRun) -> None:
    run.start()
    run.say(COLD_CALL_ANSWERS[0])
    folder = Path(run._folder.name)
    assert list(folder.glob("*.wav"))
    run.close()
    assert not folder.exists()


def _espeak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), "-s", "150", text], check=True)
    return path


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    """The app's default model (tiny.en), in this process: the dialog uses the same one in
    the transcriber process."""
    loaded = Transcriber(TranscriberSettings())
    loaded.load()
    return loaded


def test_a_wav_answer_is_transcribed_and_moves_the_dialog(tmp_path, transcriber) -> None:
    wav = _espeak("Hi, my name is Sam and I am calling from Coachdesk.", tmp_path / "a.wav")
    tried = TryRun(COLD_CALL, transcriber)
    progress: list[float] = []
    try:
        tried.start()
        step = tried.answer_wav(wav, progress=progress.append)
        assert step.source is AnswerSource.WAV and step.status is TurnStatus.TRANSCRIBED
        assert "calling" in step.answer.lower()
        assert step.to_node == "why" and step.reason.startswith('keyword "calling"')
        assert progress and progress[-1] == pytest.approx(1.0)
        typed = tried.say("We help teams save time. How do you onboard today?")
        assert typed.node_id == "why" and typed.to_node == "interest"
        outcome = tried.outcome()
        assert outcome.score == preview(
            from_document(COLD_CALL.rubric), outcome.transcript, Decimal(70), COLD_CALL.rubric
        )
    finally:
        tried.close()


def test_a_wav_answer_without_a_speech_model_is_a_failed_turn(tmp_path) -> None:
    wav = _espeak("I am calling from Coachdesk.", tmp_path / "a.wav")
    tried = TryRun(COLD_CALL)
    try:
        tried.start()
        step = tried.answer_wav(wav)
        assert step.status is TurnStatus.FAILED and "No speech model" in (step.error or "")
        assert step.reason.startswith("the answer could not be transcribed")
        assert step.reason.endswith(DEFAULT_EDGE) and step.to_node == "why"
    finally:
        tried.close()


def test_an_unreadable_file_is_a_failed_turn(tmp_path, transcriber) -> None:
    bad = tmp_path / "not-audio.wav"
    bad.write_text("not audio")
    tried = TryRun(COLD_CALL, transcriber)
    try:
        tried.start()
        step = tried.answer_wav(bad)
        assert step.status is TurnStatus.FAILED and step.error
        assert step.to_node == "why" and not tried.finished
    finally:
        tried.close()
