"""Built transcripts are what validate_transcript accepts and compute_kpis reads, in SQL too."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from app.formats import FormatError, validate_transcript
from app.kpis import compute_kpis
from app.scenarios import find_scenario, load_scenarios
from app.scoring import score
from app.transcript import (
    build_transcript,
    estimate_speech_seconds,
    has_rep_speech,
    persona_turn,
    rep_turn,
    seconds,
)
from audio.transcribe import Utterance, Word


def utterance(*words: tuple[str, float, float], duration: float = 5.0) -> Utterance:
    return Utterance(
        text=" ".join(text for text, _, _ in words),
        words=tuple(Word(text, start, end, 0.912345) for text, start, end in words),
        duration=duration,
    )


def test_seconds_are_milliseconds_and_never_negative():
    assert seconds(1.23456) == 1.235
    assert seconds(0.1 + 0.2) == 0.3
    assert seconds(-0.0004) == 0.0
    assert str(seconds(-0.0)) == "0.0"


def test_a_persona_line_lasts_as_long_as_a_voice_takes_to_say_it():
    assert estimate_speech_seconds("Dana speaking. Who is this?") == 1.875  # 5 words at 160/min
    assert estimate_speech_seconds("...") == 0.375  # never zero: a line takes some time
    assert estimate_speech_seconds("one two", words_per_minute=60) == 2.0
    with pytest.raises(ValueError, match="words_per_minute must be positive"):
        estimate_speech_seconds("hi", words_per_minute=0)
    assert persona_turn("Dana speaking. Who is this?", 2.5) == {
        "speaker": "persona",
        "start": 2.5,
        "end": 4.375,
        "text": "Dana speaking. Who is this?",
    }
    assert persona_turn("Hello", 1.0, end=3.25)["end"] == 3.25
    assert persona_turn("Hello", 1.0, end=0.5)["end"] == 1.0  # never before its start


def test_a_rep_turn_spans_its_words_placed_at_the_recordings_offset():
    said = utterance(("Um,", 0.84, 1.1), ("hi", 1.1, 1.3), ("Dana.", 1.3, 1.9004))
    assert rep_turn(said, offset=10.0) == {
        "speaker": "rep",
        "start": 10.84,  # silence before the first word is latency, not talk
        "end": 11.9,
        "text": "Um, hi Dana.",
        "words": [
            {"word": "Um,", "start": 10.84, "end": 11.1, "probability": 0.9123},
            {"word": "hi", "start": 11.1, "end": 11.3, "probability": 0.9123},
            {"word": "Dana.", "start": 11.3, "end": 11.9, "probability": 0.9123},
        ],
    }


def test_a_recording_with_no_words_is_no_turn():
    assert rep_turn(Utterance(text="", words=(), duration=3.0), offset=1.0) is None


def test_turns_are_sorted_by_start_and_ties_keep_their_order():
    first = persona_turn("Who is this?", 0.0)
    reply = rep_turn(utterance(("Sam", 0.0, 0.4)), offset=first["end"])
    overlap = persona_turn("Sorry?", reply["start"])  # same start as the rep's turn
    document = build_transcript([overlap, first, reply])
    assert document["version"] == 1
    assert document["turns"] == [first, overlap, reply]


def test_a_bad_turn_is_refused_with_the_databases_words():
    with pytest.raises(FormatError, match=r'turns\[0\].speaker must be "rep" or "persona"'):
        build_transcript([{"speaker": "coach", "start": 0, "end": 1, "text": ""}])


def call() -> dict[str, Any]:
    """A built call with an interruption, fillers, a question, a backchannel and a silent turn."""
    opening = persona_turn("Dana speaking. Who is this?", 0.0)
    answer = utterance(
        ("Uh,", 0.62, 0.9),
        ("hi", 0.9, 1.1),
        ("Dana,", 1.1, 1.5),
        ("I'm", 1.5, 1.7),
        ("calling", 1.7, 2.1),
        ("from", 2.1, 2.3),
        ("Coachdesk.", 2.3, 3.05),
    )
    first = rep_turn(answer, opening["end"])
    why = persona_turn("Why should I spend time on this?", first["end"] + 0.4, first["end"] + 2.2)
    # The rep starts 0.3 s before Dana has finished: an interruption.
    barge_in = rep_turn(
        utterance(
            ("You", 0.0, 0.2),
            ("know,", 0.2, 0.5),
            ("we", 0.5, 0.6),
            ("save", 0.6, 0.9),
            ("time.", 0.9, 1.3),
            ("Could", 1.5, 1.7),
            ("we", 1.7, 1.8),
            ("book", 1.8, 2.0),
            ("a", 2.0, 2.05),
            ("demo?", 2.05, 2.6),
        ),
        why["end"] - 0.3,
    )
    backchannel = persona_turn("Okay.", barge_in["end"] + 0.1)
    silent = rep_turn(Utterance("", (), 2.0), backchannel["end"])
    assert silent is None
    return build_transcript([opening, first, why, barge_in, backchannel])


def kpis_text(kpis: dict[str, Any]) -> dict[str, str | None]:
    """Each KPI as its exact text: 0.45 and 0.4500 differ, as they do in what the server stores."""
    return {name: None if value is None else str(value) for name, value in kpis.items()}


def test_built_transcripts_get_the_same_kpis_and_score_from_the_database(admin_conn):
    transcript = call()
    validate_transcript(transcript)
    scenario = find_scenario(load_scenarios(), "cold-call")
    # Raises CheckViolation if the database would refuse the transcript.
    admin_conn.execute("select private.validate_transcript(%s::jsonb)", (json.dumps(transcript),))
    row = admin_conn.execute(
        """
        select public.compute_kpis(%(t)s::jsonb)::text as plain,
               public.compute_kpis(%(t)s::jsonb, s.rubric)::text as with_rubric,
               private.score_breakdown(s.rubric, public.compute_kpis(%(t)s::jsonb, s.rubric),
                                       %(t)s::jsonb, s.pass_score)::text as breakdown
        from public.scenarios s where s.id = %(id)s
        """,
        {"t": json.dumps(transcript), "id": scenario.id},
    ).fetchone()

    def loads(text: str) -> dict[str, Any]:
        return json.loads(text, parse_float=Decimal)

    local = compute_kpis(transcript)
    assert kpis_text(local) == kpis_text(loads(row["plain"]))
    # The call is what it was built to be, so the parity above compares something real.
    assert (local["interruptions"], local["questions_asked"], local["rep_word_count"]) == (1, 1, 17)
    assert local["filler_word_ratio"] == Decimal("0.1176")  # "uh" and "you know" of 17 words
    assert local["response_latency_seconds"] == Decimal("0.310")  # (0.62 + 0) / 2 responses

    with_rubric = compute_kpis(transcript, scenario.rubric)
    assert kpis_text(with_rubric) == kpis_text(loads(row["with_rubric"]))
    breakdown = score(scenario.rubric, with_rubric, scenario.pass_score, transcript)
    assert json.loads(json.dumps(breakdown, default=str)) == json.loads(
        json.dumps(loads(row["breakdown"]), default=str)
    )


def test_the_database_refuses_what_the_builder_refuses(admin_conn):
    bad = {"turns": [{"speaker": "rep", "start": 2, "end": 1, "text": ""}]}
    with pytest.raises(FormatError) as local:
        validate_transcript(bad)
    with pytest.raises(psycopg.errors.CheckViolation) as remote:
        admin_conn.execute("select private.validate_transcript(%s::jsonb)", (json.dumps(bad),))
    assert str(local.value) == remote.value.diag.message_primary


@pytest.mark.parametrize(
    ("turns", "spoke"),
    [
        ([], False),
        ([{"speaker": "persona", "start": 0, "end": 2, "text": "Dana speaking."}], False),
        (
            [
                {"speaker": "persona", "start": 0, "end": 2, "text": "Dana speaking."},
                {"speaker": "rep", "start": 3, "end": 9, "text": "  "},
            ],
            False,
        ),
        ([{"speaker": "rep", "start": 3, "end": 9, "text": "Hi Dana."}], True),
    ],
)
def test_rep_speech_is_the_same_rule_here_and_on_the_server(admin_conn, turns, spoke):
    """A call without rep speech is incomplete on both sides: never saved here, never scored
    there (supabase/migrations/20261203000110)."""
    transcript = {"version": 1, "turns": turns}
    assert has_rep_speech(transcript) is spoke
    row = admin_conn.execute(
        "select private.has_rep_speech(%s::jsonb) as spoke", (json.dumps(transcript),)
    ).fetchone()
    assert row["spoke"] is spoke
