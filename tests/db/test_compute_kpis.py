"""public.compute_kpis: hand-computed KPIs of small calls, purity, bounds and grants."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest

D = Decimal

# A realistic cold-call opening. Times in ms: persona 0-2500, rep 3100-10600, persona 10400-11000
# (a backchannel while the rep is still talking), rep 11200-20700, persona 20200-26000, and the
# rep cuts in at 25500 (an interruption) until 31250.
GOLDEN = {
    "version": 1,
    "turns": [
        {
            "speaker": "persona",
            "start": 0.0,
            "end": 2.5,
            "text": "Hi, this is Dana. Who is calling?",
        },
        {
            "speaker": "rep",
            "start": 3.1,
            "end": 10.6,
            "text": "Hi Dana, um, this is Sam from Coachdesk. You know, we help teams save time. "
            "Do you have a minute?",
        },
        {"speaker": "persona", "start": 10.4, "end": 11.0, "text": "Yeah, sure."},
        {
            "speaker": "rep",
            "start": 11.2,
            "end": 20.7,
            "text": "Great. Uh, how do you onboard new reps today? And what does it cost you?",
        },
        {
            "speaker": "persona",
            "start": 20.2,
            "end": 26.0,
            "text": "We use spreadsheets, honestly. It takes weeks.",
        },
        {
            "speaker": "rep",
            "start": 25.5,
            "end": 31.25,
            "text": "I mean, basically we could cut that to days. Could we book a demo?",
        },
    ],
}

GOLDEN_KPIS = {
    "version": 1,
    # 31250 - 0 ms
    "call_duration_seconds": D("31.250"),
    # rep 7500 + 9500 + 5750 = 22750 ms
    "rep_talk_seconds": D("22.750"),
    # 22750 / (22750 + persona 2500 + 600 + 5800) = 22750 / 31650 = 0.71879...
    "talk_ratio": D("0.7188"),
    # 20 + 15 + 14 words
    "rep_word_count": 49,
    # 49 * 60000 / 22750 = 129.23...
    "words_per_minute": D("129.2"),
    # fillers: um, "you know" (not "do you have"), uh, "i mean", basically = 5; 5 * 60000 / 22750
    "filler_words_per_minute": D("13.19"),
    # 5 / 49 = 0.10204...
    "filler_word_ratio": D("0.1020"),
    # "Yeah, sure." does not break the stretch 3100-20700; the persona's real answer does.
    "longest_monologue_seconds": D("17.600"),
    "questions_asked": 4,
    # only the rep's 25500 start inside the persona's 20200-26000 turn
    "interruptions": 1,
    # persona->rep gaps 600, 200 and max(0, -500) = 0: 800 / 3 ms
    "response_latency_seconds": D("0.267"),
    # 5 speaker changes * 60000 / 31250
    "speaker_switches_per_minute": D("9.60"),
    "keyword_coverage": None,
}


def turn(speaker: str, start: float, end: float, text: str) -> dict[str, Any]:
    return {"speaker": speaker, "start": start, "end": end, "text": text}


def transcript(*turns: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "turns": list(turns)}


def sql_kpis(
    conn: psycopg.Connection, body: dict[str, Any], rubric: dict[str, Any] | None = None
) -> dict[str, Any]:
    """KPIs as the database computes them, numbers read exactly (Decimal, not float)."""
    row = conn.execute(
        "select public.compute_kpis(%s::jsonb, %s::jsonb)::text as kpis",
        (json.dumps(body), None if rubric is None else json.dumps(rubric)),
    ).fetchone()
    return json.loads(row["kpis"], parse_float=Decimal)


def test_golden_cold_call(admin_conn):
    assert sql_kpis(admin_conn, GOLDEN) == GOLDEN_KPIS


def test_output_keys_are_exactly_the_kpi_names(admin_conn):
    names = admin_conn.execute("select private.kpi_names() as names").fetchone()["names"]
    assert set(sql_kpis(admin_conn, GOLDEN)) == {*names, "version"}


def test_fillers_phrases_and_deliberate_exclusions(admin_conn):
    body = transcript(
        turn(
            "rep",
            0,
            6,
            "Um, you know, I mean... you\nknow? UH-HUH basically like so actually anyway",
        ),
        # "you" ends one turn and "know" starts the next: a phrase never spans turns.
        turn("rep", 6, 7, "Tell you"),
        turn("rep", 7, 8, "know-how (mm)"),
        # The persona's fillers are not the rep's.
        turn("persona", 8, 10, "Um, uh, you know."),
    )
    kpis = sql_kpis(admin_conn, body)
    # um, you know, i mean, you know, uh-huh, basically, mm = 7 of 13 + 2 + 2 = 17 words
    assert kpis["rep_word_count"] == 17
    assert kpis["filler_word_ratio"] == D("0.4118")  # 7 / 17 = 0.41176...
    assert kpis["filler_words_per_minute"] == D("52.50")  # 7 * 60000 / 8000
    assert kpis["words_per_minute"] == D("127.5")  # 17 * 60000 / 8000
    assert kpis["questions_asked"] == 1


def test_backchannels_do_not_break_a_monologue_but_answers_do(admin_conn):
    body = transcript(
        turn("rep", 0, 10, "First part of the pitch."),
        turn("persona", 10, 11, "Got it."),
        turn("rep", 11, 20, "Second part."),
        turn("persona", 20, 20.5, ""),  # an empty turn (noise) is no answer either
        turn("rep", 20.5, 30, "Third part."),
        # Four words, all acknowledgements: more than a backchannel, so the stretch ends.
        turn("persona", 30, 31, "OK, I see, right?"),
        turn("rep", 31, 70, "A long reply."),
        turn("persona", 70, 71, "Yeah, that's fair."),  # "that's" is not an acknowledgement
        turn("rep", 71, 72, "Thanks."),
    )
    # Stretches: 0-30000 and 31000-70000 (39 s) and 71000-72000.
    assert sql_kpis(admin_conn, body)["longest_monologue_seconds"] == D("39.000")
    body["turns"][5]["text"] = "OK, I see."
    # Now one stretch from 0 to 70000.
    assert sql_kpis(admin_conn, body)["longest_monologue_seconds"] == D("70.000")


def test_overlap_interruption_and_latency(admin_conn):
    body = transcript(
        turn("persona", 0, 5, "We already have a vendor."),
        turn("rep", 4.5, 8, "Sure, but may I ask why?"),  # rep cuts in: an interruption
        turn("persona", 7.9, 10, "Because it works."),  # persona cutting in is not counted
        turn("rep", 10.0, 12, "Fair enough."),  # starts exactly at the persona's end: not one
    )
    kpis = sql_kpis(admin_conn, body)
    assert kpis["interruptions"] == 1
    assert kpis["response_latency_seconds"] == D("0.000")  # max(0, -500) and 0
    assert kpis["talk_ratio"] == D("0.4365")  # 5500 / 12600 = 0.43650...
    assert kpis["speaker_switches_per_minute"] == D("15.00")  # 3 * 60000 / 12000
    assert kpis["longest_monologue_seconds"] == D("3.500")


def test_empty_transcript_counts_zero_and_rates_null(admin_conn):
    kpis = sql_kpis(admin_conn, transcript())
    assert {k: v for k, v in kpis.items() if v is not None} == {
        "version": 1,
        "rep_word_count": 0,
        "questions_asked": 0,
        "interruptions": 0,
        "rep_talk_seconds": D("0"),
    }


def test_rep_only_call(admin_conn):
    kpis = sql_kpis(
        admin_conn,
        transcript(
            turn("rep", 0.5, 4.5, "Hello? Hello?"), turn("rep", 5, 9.25, "Is anyone there?")
        ),
    )
    assert kpis == {
        "version": 1,
        "call_duration_seconds": D("8.750"),
        "rep_talk_seconds": D("8.250"),
        "talk_ratio": D("1.0000"),
        "rep_word_count": 5,
        "words_per_minute": D("36.4"),  # 5 * 60000 / 8250 = 36.36...
        "filler_words_per_minute": D("0.00"),
        "filler_word_ratio": D("0.0000"),
        "longest_monologue_seconds": D("8.750"),
        "questions_asked": 3,
        "interruptions": 0,
        "response_latency_seconds": None,
        "speaker_switches_per_minute": D("0.00"),
        "keyword_coverage": None,
    }


def test_persona_only_call(admin_conn):
    kpis = sql_kpis(admin_conn, transcript(turn("persona", 0, 3, "Hello? Anyone?")))
    assert kpis["talk_ratio"] == D("0.0000")
    assert kpis["questions_asked"] == 0
    assert kpis["call_duration_seconds"] == D("3.000")
    for name in ("words_per_minute", "filler_word_ratio", "longest_monologue_seconds"):
        assert kpis[name] is None


def test_times_become_milliseconds_half_away_from_zero(admin_conn):
    # 1.0005 s is 1000.5 ms exactly in the JSON text (float arithmetic would say 1000.4999...).
    kpis = sql_kpis(admin_conn, transcript(turn("rep", 1.0005, 2.0004, "One two")))
    assert kpis["rep_talk_seconds"] == D("0.999")  # 2000 - 1001 ms


def test_keyword_coverage_matches_whole_words_in_rep_turns(admin_conn):
    rubric = {
        "version": 1,
        "criteria": [
            {
                "id": "kw",
                "label": "Keywords",
                "weight": 1,
                "type": "keywords",
                "keywords": [["makes sense", "fair"], ["support"], ["?!"], ["time"]],
            }
        ],
    }
    body = transcript(
        turn("rep", 0, 2, "That MAKES sense."),
        turn("persona", 2, 3, "Our support is slow."),  # the persona saying it does not count
        turn("rep", 3, 4, "Sometimes."),  # "time" is not a word of "sometimes"
    )
    # 1 of 4 groups; "?!" has no words and can never be mentioned.
    assert sql_kpis(admin_conn, body, rubric)["keyword_coverage"] == D("0.2500")
    # Without keyword criteria there is nothing to cover.
    rubric["criteria"][0] = {
        "id": "q",
        "weight": 1,
        "type": "kpi",
        "kpi": "questions_asked",
        "target": {"min": 1},
    }
    assert sql_kpis(admin_conn, body, rubric)["keyword_coverage"] is None


def test_deterministic(admin_conn):
    first = admin_conn.execute(
        "select public.compute_kpis(%s::jsonb)::text as k", (json.dumps(GOLDEN),)
    ).fetchone()["k"]
    reordered = {"turns": [dict(reversed(t.items())) for t in GOLDEN["turns"]], "version": 1}
    for body in (GOLDEN, reordered):
        again = admin_conn.execute(
            "select public.compute_kpis(%s::jsonb)::text as k", (json.dumps(body, indent=2),)
        ).fetchone()["k"]
        assert again == first


def test_bounds_over_the_seed_transcripts(admin_conn):
    rows = admin_conn.execute(
        "select public.compute_kpis(transcript)::text as k from public.scenario_attempts"
        " where transcript is not null"
    ).fetchall()
    assert rows
    for row in [*rows, {"k": json.dumps(GOLDEN_KPIS, default=str)}]:
        kpis = json.loads(row["k"], parse_float=Decimal)
        assert D(0) <= D(kpis["talk_ratio"]) <= D(1)
        assert D(0) <= D(kpis["filler_word_ratio"]) <= D(1)
        for name in ("rep_word_count", "questions_asked", "interruptions"):
            assert isinstance(kpis[name], int)
            assert kpis[name] >= 0
        for name in ("response_latency_seconds", "longest_monologue_seconds", "words_per_minute"):
            assert D(kpis[name]) >= 0


def test_invalid_input_is_refused_with_a_clear_message(admin_conn):
    with pytest.raises(psycopg.errors.CheckViolation, match=r"turns\[0\].speaker"):
        sql_kpis(admin_conn, transcript(turn("customer", 0, 1, "hi")))
    admin_conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="weights must sum to 1"):
        sql_kpis(
            admin_conn,
            GOLDEN,
            {
                "version": 1,
                "criteria": [{"id": "a", "weight": 0.5, "type": "keywords", "keywords": [["x"]]}],
            },
        )


def test_null_transcript_gives_null(admin_conn):
    assert admin_conn.execute("select public.compute_kpis(null) as k").fetchone()["k"] is None


def test_immutable_and_parallel_safe(admin_conn):
    row = admin_conn.execute(
        "select provolatile, proparallel, prosecdef from pg_proc"
        " where oid = 'public.compute_kpis(jsonb, jsonb)'::regprocedure"
    ).fetchone()
    assert row == {"provolatile": "i", "proparallel": "s", "prosecdef": False}


def test_signed_in_callers_may_compute_and_anon_may_not(admin_conn, as_user):
    for role, allowed in (("anon", False), ("authenticated", True), ("service_role", True)):
        row = admin_conn.execute(
            "select has_function_privilege(%s, 'public.compute_kpis(jsonb, jsonb)', 'execute')"
            " as ok",
            (role,),
        ).fetchone()
        assert row["ok"] is allowed, role
    conn = as_user("trainee")
    assert sql_kpis(conn, GOLDEN) == GOLDEN_KPIS
