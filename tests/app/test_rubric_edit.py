"""Editing rubrics in percentages: balance, ideal targets, the documents the database accepts,
and a preview score equal to what the database stores for the edited rubric."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from app.formats import FormatError
from app.rubric_edit import (
    balance,
    from_document,
    new_keywords_criterion,
    new_kpi_criterion,
    preview,
    to_document,
)
from app.scenario_package import plain_json
from app.scenarios import load_scenarios
from app.transcript import load_sample_transcript


def _plain(value: Any) -> Any:
    """Numbers compared by value (the document's 2 and the editor's Decimal 2 are the same)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    return value


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.slug)
def test_every_sample_rubric_reads_as_percentages_and_writes_back_the_same(scenario):
    criteria = from_document(scenario.rubric)
    assert sum(c.percent for c in criteria) == 100
    back = to_document(criteria, scenario.rubric)
    for before, after in zip(scenario.rubric["criteria"], back["criteria"], strict=True):
        assert Decimal(str(after["weight"])) == Decimal(str(before["weight"]))
        assert {k: _plain(v) for k, v in after.items() if k != "weight"} == {
            k: _plain(v) for k, v in before.items() if k != "weight"
        }


def test_balance_keeps_proportions_in_whole_percent_totalling_100():
    listen = new_kpi_criterion("talk_ratio", 1)
    ask = new_kpi_criterion("questions_asked", 1, taken=[listen.id])
    value = new_keywords_criterion([["save time"]], 1)
    assert [c.percent for c in balance([listen, ask, value])] == [34, 33, 33]
    assert [c.percent for c in balance([replace(listen, percent=60), ask])] == [98, 2]
    assert [c.percent for c in balance([replace(listen, percent=0), replace(ask, percent=0)])] == [
        50,
        50,
    ]
    assert balance([]) == []


def test_a_new_kpi_criterion_starts_from_the_published_ideal_range():
    pace = new_kpi_criterion("words_per_minute", taken=["words_per_minute"])
    assert pace.id == "words_per_minute_2"
    assert (pace.low, pace.high) == (Decimal(130), Decimal(175))  # Read.ai, Gong Labs
    questions = new_kpi_criterion("questions_asked")
    assert (questions.low, questions.high) == (None, None)  # no published range: the admin sets it
    with pytest.raises(ValueError, match="not a KPI"):
        new_kpi_criterion("charisma")


def test_documents_the_database_would_refuse_are_refused_with_its_sentence():
    listen = new_kpi_criterion("talk_ratio", 60)
    with pytest.raises(FormatError, match="total 60 %"):
        to_document([listen])
    no_target = replace(new_kpi_criterion("questions_asked", 40), low=None, high=None)
    with pytest.raises(FormatError, match="target"):
        to_document([listen, no_target])
    empty = new_keywords_criterion([[" "]], 40)
    with pytest.raises(FormatError, match="keywords"):
        to_document([listen, empty])


@pytest.fixture(scope="module")
def db(database_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        yield conn


def test_the_preview_is_what_the_database_stores_for_the_edited_rubric(db):
    scenario = load_scenarios()[0]
    edited = balance(
        [
            *from_document(scenario.rubric),
            replace(new_kpi_criterion("words_per_minute", 25), tolerance=Decimal(40)),
        ]
    )
    transcript = load_sample_transcript()
    mine = preview(edited, transcript, scenario.pass_score, scenario.rubric)
    rubric = json.dumps(plain_json(to_document(edited, scenario.rubric)))
    (theirs,) = db.execute(
        "select private.score_breakdown(%(r)s::jsonb, public.compute_kpis(%(t)s::jsonb, "
        "%(r)s::jsonb), %(t)s::jsonb, %(p)s)::text",
        {"r": rubric, "t": json.dumps(transcript), "p": scenario.pass_score},
    ).fetchone()
    assert _plain(mine) == _plain(json.loads(theirs, parse_float=Decimal))
