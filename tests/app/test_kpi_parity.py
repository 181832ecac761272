"""app.kpis / app.scoring give exactly the database's numbers: the provisional score is final."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.kpis import KPI_NAMES, compute_kpis, round_ratio, to_ms, tokenize
from app.scoring import RubricError, score

# compute_kpis(t, rubric) and, for every seed scenario, the stored breakdown's computation, in one
# round trip. score_breakdown is what both score_attempt and the upload trigger store.
SQL = """
select public.compute_kpis(%(t)s::jsonb)::text as plain,
       (select jsonb_object_agg(s.id, jsonb_build_object(
                 'kpis', public.compute_kpis(%(t)s::jsonb, s.rubric),
                 'breakdown', private.score_breakdown(
                   s.rubric, public.compute_kpis(%(t)s::jsonb, s.rubric), %(t)s::jsonb,
                   s.pass_score)))
        from public.scenarios s)::text as by_scenario
"""

WORDS = [
    "um", "Uh", "UMM", "er", "hmm", "mm", "mhmm", "uh-huh", "basically,", "you", "know", "I",
    "mean", "like", "so", "actually", "anyway", "yes", "Yeah", "ok", "okay", "got", "it", "see",
    "right", "sure", "save", "demo", "call?", "meeting", "reduce", "faster", "cost", "days",
    "makes", "sense", "support", "What?", "why??", "?", "...", "(um)", '"quoted"', "[x]", "{y}",
    "École", "naïve", "ÜBER", "a-b", "don't", "",
]  # fmt: skip
SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", ", ", "? ", " ?! ", "\u00a0", "\x0b"]


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def exact(value: Any) -> Any:
    """Numbers as their text, so 0.45 and 0.4500 differ: the client shows what the server stores."""
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


@pytest.fixture(scope="module")
def scenarios(database_dsn: str) -> dict[str, tuple[dict[str, Any], Decimal]]:
    """Every seed scenario's rubric (parsed as the client parses JSON: floats) and pass mark."""
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute("select id::text, rubric::text, pass_score from public.scenarios")
        return {id_: (json.loads(rubric), pass_score) for id_, rubric, pass_score in rows}


@pytest.fixture(scope="module")
def db(database_dsn: str) -> Iterator[psycopg.Connection]:
    """One connection for all examples; compute_kpis and score_breakdown are pure."""
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        yield conn


def assert_parity(db: psycopg.Connection, scenarios: dict, transcript: dict[str, Any]) -> None:
    # json.dumps writes each float as repr(): the text Postgres parses is the text Python reads.
    plain, by_scenario = db.execute(SQL, {"t": json.dumps(transcript)}).fetchone()
    assert exact(compute_kpis(transcript)) == exact(loads(plain))
    for scenario_id, expected in loads(by_scenario).items():
        rubric, pass_score = scenarios[scenario_id]
        kpis = compute_kpis(transcript, rubric)
        assert exact(kpis) == exact(expected["kpis"]), scenario_id
        breakdown = score(rubric, kpis, pass_score, transcript)
        assert exact(breakdown) == exact(expected["breakdown"]), scenario_id


def turn(speaker: str, start: float, end: float, text: str) -> dict[str, Any]:
    return {"speaker": speaker, "start": start, "end": end, "text": text}


EDGE_CASES = {
    "empty": [],
    "rep only": [turn("rep", 0, 3, "Um... you know? I mean.")],
    "persona only": [turn("persona", 0, 3, "Hello? Anyone there?")],
    "zero-length turns": [turn("rep", 1, 1, "Hi"), turn("persona", 1, 1, "Yeah")],
    # 1.0005 s is 1000.5 ms in decimal but 1000.4999... ms in float arithmetic.
    "half milliseconds": [
        turn("persona", 0.0005, 1.0005, "Who is it?"),
        turn("rep", 1.0015, 2.0025, "Sam, from Coachdesk."),
        turn("persona", 2.0025, 2.4995, "OK"),
        turn("rep", 2.4995, 12.3455, "Can we save you time?"),
    ],
    "float noise": [
        turn("persona", 0.1, 0.30000000000000004, "Hi"),
        turn("rep", 0.30000000000000004, 1e-3 + 7, "Hello there, save time"),
    ],
    "big and exponent times": [
        turn("rep", 1e-7, 3600.0, "A very long monologue"),
        turn("persona", 86400.123, 86401.5, "Still there?"),
    ],
    "interruptions everywhere": [
        turn("persona", 0, 10, "A long objection about support"),
        turn("rep", 2, 4, "Fair. Support?"),
        turn("persona", 3, 9, "Yes, support."),
        turn("rep", 3, 5, "I understand, that makes sense"),
    ],
    "phrases across turns": [turn("rep", 0, 1, "you"), turn("rep", 1, 2, "know makes")],
    "unicode whitespace is not a separator": [turn("rep", 0, 1, "um\u00a0uh\u2003you know")],
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_cases(db, scenarios, name):
    assert_parity(db, scenarios, {"version": 1, "turns": EDGE_CASES[name]})


texts = st.one_of(
    st.builds(
        lambda words, seps: "".join(w + s for w, s in zip(words, seps, strict=False)),
        st.lists(st.sampled_from(WORDS), max_size=14),
        st.lists(st.sampled_from(SEPARATORS), min_size=14, max_size=14),
    ),
    st.text(alphabet="aUmhÉ? .,!\t\n\r\"()[]{}-'", max_size=30),
)
# Times in tenths of a millisecond: mostly whole milliseconds (up to 3 decimals), sometimes
# exactly half a millisecond, which is where rounding must agree.
ticks = st.one_of(
    st.integers(0, 8000).map(lambda ms: ms * 10), st.integers(0, 8000).map(lambda ms: ms * 10 + 5)
)


@st.composite
def transcripts(draw: st.DrawFn) -> dict[str, Any]:
    turns = []
    start = draw(ticks)
    for _ in range(draw(st.integers(0, 8))):
        start += draw(ticks) if draw(st.booleans()) else 0
        # Durations may run past the next turn's start: overlaps and interruptions.
        end = start + draw(ticks)
        speaker = draw(st.sampled_from(["rep", "persona"]))
        turns.append(turn(speaker, start / 10000, end / 10000, draw(texts)))
    return {"version": 1, "turns": turns}


@settings(max_examples=200, deadline=None)
@given(transcript=transcripts())
def test_generated_transcripts(db, scenarios, transcript):
    assert_parity(db, scenarios, transcript)
    kpis = compute_kpis(transcript)
    # Bounds that hold for every call.
    if kpis["talk_ratio"] is not None:
        assert 0 <= kpis["talk_ratio"] <= 1
    if kpis["filler_word_ratio"] is not None:
        assert 0 <= kpis["filler_word_ratio"] <= 1
    assert min(kpis["rep_word_count"], kpis["questions_asked"], kpis["interruptions"]) >= 0


def test_kpi_names_match_the_database(db):
    (names,) = db.execute("select private.kpi_names()").fetchone()
    assert list(KPI_NAMES) == names


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("  Hello,  World!! \t(um)\nÉcole ... ", ["hello", "world", "um", "École"]),
        ("uh-huh? don't {x}", ["uh-huh", "don't", "x"]),
        ("a\u00a0b", ["a\u00a0b"]),
    ],
)
def test_tokenize_matches_sql(db, text, tokens):
    assert tokenize(text) == tokens
    (sql_tokens,) = db.execute("select private.kpi_tokens(%s)", (text,)).fetchone()
    assert sql_tokens == tokens


@pytest.mark.parametrize(
    ("num", "den", "places"),
    [
        (1, 8, 2),
        (-5, 2, 0),
        (5, -2, 0),
        (1, 3, 4),
        (2, 3, 4),
        (0, 7, 2),
        (1, 0, 2),
        (10**30 + 1, 2, 0),
    ],
)
def test_round_ratio_matches_sql(db, num, den, places):
    (expected,) = db.execute(
        "select private.kpi_ratio(%s::numeric, %s::numeric, %s)", (num, den, places)
    ).fetchone()
    assert round_ratio(num, den, places) == expected


@pytest.mark.parametrize("seconds", [1.0005, -1.0005, 0.0004999, 2.5e-3, 12345.6785, 7, 0])
def test_ms_conversion_matches_sql(db, seconds):
    (expected,) = db.execute("select private.kpi_ms(%s::jsonb)", (json.dumps(seconds),)).fetchone()
    assert to_ms(seconds) == expected


def test_keyword_criteria_need_the_transcript(scenarios):
    rubric, pass_score = scenarios["f0000000-0000-4000-8000-000000000001"]
    with pytest.raises(RubricError, match="pass the transcript"):
        score(rubric, compute_kpis({"version": 1, "turns": []}), pass_score)
