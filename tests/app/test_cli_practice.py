"""`coachdesk transcribe` and `coachdesk practice` as a user runs them, on espeak-ng speech."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import structlog
from test_practice import COLD_CALL_CLOSE, Speech, speech_in

from app.cli import main
from app.kpis import KPI_NAMES
from app.scenarios import load_scenarios

INCUMBENT = "f0000000-0000-4000-8000-000000000003"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return speech_in(tmp_path_factory.mktemp("answers"))


@pytest.fixture(autouse=True)
def no_user_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read the user's settings file; the tests' user has none."""
    monkeypatch.setenv("COACHDESK_CONFIG", str(tmp_path / "no-settings.toml"))


@pytest.fixture(autouse=True)
def logging_as_before() -> Iterator[None]:
    """main() points logging at the stderr it sees, here the test's capture; undo that after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_practice_plays_the_scenario_down_the_close_branch(capsys, speech):
    answers = [speech(text) for text in COLD_CALL_CLOSE]
    code, out, err = run(capsys, "practice", "--scenario", "cold-call", "--answers", *answers)
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0]
        == "Scenario: Cold call: the skeptical IT director (cold-call-the-skeptical-it-director)"
    )
    persona = [line for line in lines if line.startswith("Dana Whitfield [")]
    assert persona == [
        "Dana Whitfield [open]: Dana speaking. Who is this?",
        "Dana Whitfield [why]: We already have a vendor for that. Why should I spend time on this?",
        "Dana Whitfield [interest]: Okay, that is relevant. What would a next step look like?",
        "Dana Whitfield [close]: Fine, send an invite for Thursday.",
    ]
    rep = [line for line in lines if line.startswith("You [")]
    assert [line.split("]")[0] for line in rep] == [f"You [{a.name}" for a in answers]
    assert "calling" in rep[0].lower() and "meeting" in rep[2].lower()
    assert "    -> why (keyword 'calling')" in lines
    assert "Path: open > why > interest > close (end_node)" in lines
    assert "Transcript: 7 turns" in lines
    shown = {
        line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")
    }
    assert set(KPI_NAMES) <= shown
    score_line = next(line for line in lines if line.startswith("Score: "))
    assert score_line.endswith("(pass mark 70.00): passed") or "not passed" in score_line
    assert any(line.startswith("  State value and a next step") for line in lines)


def test_practice_json_follows_the_brushoff_branch(capsys, speech):
    answers = [speech("Hello, this is Sam."), speech("I just wanted to say hello to you.")]
    code, out, err = run(
        capsys, "practice", "--scenario", "cold-call", "--answers", *answers, "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["scenario"]["slug"] == "cold-call-the-skeptical-it-director"
    assert result["path"] == ["open", "why", "brushoff"]
    assert (result["end_reason"], result["complete"], result["problems"]) == ("end_node", True, [])
    assert [turn["next_node"] for turn in result["rep_turns"]] == ["why", "brushoff"]
    assert [turn["status"] for turn in result["rep_turns"]] == ["transcribed"] * 2
    assert len(result["transcript"]["turns"]) == 5
    assert all("words" in t for t in result["transcript"]["turns"] if t["speaker"] == "rep")
    assert set(KPI_NAMES) <= set(result["kpis"])
    assert isinstance(result["score"]["score"], int | float)
    assert [c["id"] for c in result["score"]["criteria"]] == ["listen", "questions", "value"]


def test_practice_by_id_follows_intents(capsys, speech):
    answers = [
        speech("What would you change about your current provider?"),
        speech("Is their support slow?"),
    ]
    code, out, err = run(capsys, "practice", "--scenario", INCUMBENT, "--answers", *answers)
    assert code == 0, err
    assert "    -> probe (intent 'question')" in out.splitlines()
    assert "Path: open > probe > close (end_node)" in out.splitlines()


def test_too_few_answers_say_where_the_call_stopped(capsys, speech):
    code, out, err = run(
        capsys, "practice", "--scenario", "cold-call", "--answers", speech(COLD_CALL_CLOSE[0])
    )
    assert code == 1
    assert (
        'coachdesk practice: the call did not end: after 1 answer(s) the persona is at node "why" '
        '("We already have a vendor for that. Why should I spend time on this?") and waits for '
        "another answer"
    ) in err
    assert "Path: open > why (not ended)" in out


def test_answers_left_over_say_that_the_call_ended_early(capsys, speech):
    objection, extra = speech("But we are much cheaper than they are."), speech("Hello?")
    code, out, err = run(
        capsys, "practice", "--scenario", "objection", "--answers", objection, extra, "--json"
    )
    assert code == 1
    problem = f'the call ended at node "annoyed" after 1 answer(s); not used: {extra}'
    assert f"coachdesk practice: {problem}" in err
    result = json.loads(out)
    assert (result["path"], result["complete"], result["problems"]) == (
        ["open", "annoyed"],
        False,
        [problem],
    )


def test_an_answer_that_cannot_be_transcribed_is_reported(capsys, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    code, out, err = run(capsys, "practice", "--scenario", "globex", "--answers", broken)
    assert code == 1
    assert f"You [broken.wav]: (not transcribed: Cannot read the audio file {broken}" in out
    assert f"coachdesk practice: answer 1 ({broken}) could not be transcribed: Cannot read" in err
    assert "Path: open > end (end_node)" in out  # the default edge, and the call still ended


def test_an_unknown_scenario_lists_the_known_ones(capsys, speech):
    code, out, err = run(capsys, "practice", "--scenario", "nope", "--answers", speech("Hello?"))
    assert (code, out) == (1, "")
    assert 'coachdesk practice: no scenario "nope"; known scenarios:' in err
    for scenario in load_scenarios():
        assert f"  {scenario.slug}  ({scenario.id})" in err


def test_an_ambiguous_scenario_prefix_is_refused(capsys, speech):
    code, _, err = run(capsys, "practice", "--scenario", "f000", "--answers", speech("Hello?"))
    assert code == 1
    assert '"f000" matches several scenarios (cold-call-the-skeptical-it-director, ' in err


def test_missing_answer_files_are_named(capsys, tmp_path, speech):
    missing = tmp_path / "rep2.wav"
    code, out, err = run(
        capsys, "practice", "--scenario", "cold-call", "--answers", speech("Hello?"), missing
    )
    assert (code, out) == (1, "")
    assert f"coachdesk practice: no such file: {missing}" in err
    assert "model loaded" not in err  # refused before any slow work


def test_practice_reads_another_scenarios_file(capsys, tmp_path, speech):
    scenarios = json.loads((Path("resources/sample/scenarios.json")).read_text(encoding="utf-8"))
    globex = next(s for s in scenarios["scenarios"] if s["title"].startswith("Globex"))
    globex["branching"]["nodes"][0]["persona_line"] = "Hi, what happens now?"
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(globex), encoding="utf-8")
    code, out, err = run(
        capsys,
        "practice",
        "--scenarios",
        mine,
        "--scenario",
        "globex",
        "--answers",
        speech("Hello?"),
    )
    assert code == 0, err
    assert "Sam Ortiz [open]: Hi, what happens now?" in out

    broken = tmp_path / "broken.json"
    broken.write_text('{"scenarios": [{"id": "x", "title": "X", "persona": {}}]}', encoding="utf-8")
    code, _, err = run(
        capsys, "practice", "--scenarios", broken, "--scenario", "x", "--answers", mine
    )
    assert code == 1
    assert (
        f'coachdesk practice: {broken}, scenario "x": persona is invalid: "name" must be a '
        "non-empty string"
    ) in err


def test_transcribe_prints_the_text_or_json_with_words(capsys, speech):
    audio = speech("Uh, let me send you the pricing details today.")
    code, out, err = run(capsys, "transcribe", audio)
    assert code == 0, err
    text = out.strip().lower()
    assert text.startswith("uh,") and "pricing details" in text  # the filler is kept

    code, out, err = run(capsys, "transcribe", audio, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["file"] == str(audio)
    assert result["text"].strip().lower() == text
    assert result["duration"] > 1
    words = result["words"]
    assert [w["word"] for w in words] == result["text"].split()
    assert all(0 <= w["start"] <= w["end"] <= result["duration"] + 0.5 for w in words)
    assert all(0 < w["probability"] <= 1 for w in words)


def test_transcribe_errors_are_plain_and_exit_1(capsys, tmp_path, speech):
    missing = tmp_path / "nothing.wav"
    assert run(capsys, "transcribe", missing)[0::2] == (
        1,
        f"coachdesk transcribe: no such file: {missing}\n",
    )
    code, out, err = run(capsys, "transcribe", speech("Hello?"), "--model", tmp_path / "no-model")
    assert (code, out) == (1, "")
    assert f"coachdesk transcribe: The speech-to-text model at {tmp_path / 'no-model'}" in err
    assert "could not be loaded (there is no model folder there)" in err


def test_a_bad_settings_file_stops_the_command_with_its_name(capsys, tmp_path, monkeypatch, speech):
    settings = tmp_path / "settings.toml"
    settings.write_text("[transcription]\nbeam_size = 0\n", encoding="utf-8")
    monkeypatch.setenv("COACHDESK_CONFIG", str(settings))
    code, _, err = run(capsys, "transcribe", speech("Hello?"))
    assert code == 1
    assert f"transcription.beam_size = 0 in {settings}: Input should be greater than" in err


def test_transcribe_says_no_speech_found_for_silence(capsys, tmp_path):
    silence = tmp_path / "silence.flac"
    soundfile.write(silence, np.zeros(3 * 16000, np.float32), 16000)
    code, out, err = run(capsys, "transcribe", silence)
    assert (code, out) == (0, "")
    assert f"coachdesk transcribe: no speech found in {silence}" in err
    code, out, err = run(capsys, "transcribe", silence, "--json")
    assert json.loads(out)["words"] == [] and "no speech found" in err


def test_transcribe_a_cut_off_flac_gives_the_text_before_the_break(capsys, tmp_path, speech):
    """A FLAC cut mid-way (what a crash leaves): the words before the break, and a warning."""
    whole = tmp_path / "whole.flac"
    said = [
        soundfile.read(speech(text), dtype="float32")[0]
        for text in ("Let me send you the pricing details today.", "Thanks for your time, goodbye.")
    ]
    samples = np.concatenate([said[0], np.zeros(22050, np.float32), said[1]])
    soundfile.write(whole, samples, 22050)
    data = whole.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: round(len(data) * 0.6)])
    code, out, err = run(capsys, "transcribe", cut)
    assert code == 0, err
    assert "pricing" in out.lower() and "goodbye" not in out.lower()
    assert f"coachdesk transcribe: warning: {cut} breaks off after" in err
    assert "lost sync" in err
