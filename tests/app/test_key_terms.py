"""A scenario's key terms: the editor's line, the database's rules (tests/db/
test_scenario_key_terms.py checks that the database answers with the same words) and their
place in the speech model's vocabulary."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.formats import FormatError
from app.key_terms import key_terms_text, parse_key_terms, validate_key_terms
from app.scenarios import Scenario, ScenarioError, load_scenarios


def cold_call() -> Scenario:
    return next(s for s in load_scenarios() if s.slug.startswith("cold-call"))


def test_the_key_terms_come_first_in_the_vocabulary():
    scenario = cold_call()
    before = scenario.vocabulary
    assert before[0] == scenario.persona["name"]
    assert before[1] == scenario.persona["company"]
    terms = ("ServiceNow", "Zendesk", scenario.persona["company"])
    # The author's terms first, then what was there, nothing twice.
    assert replace(scenario, key_terms=terms).vocabulary == (
        *terms,
        before[0],
        *before[2:],
    )


def test_the_editors_line_becomes_trimmed_terms_and_back():
    assert parse_key_terms(" ServiceNow,  SOC 2 ,,Zendesk, ") == ("ServiceNow", "SOC 2", "Zendesk")
    assert parse_key_terms("   ") == ()
    assert key_terms_text(("ServiceNow", "SOC 2")) == "ServiceNow, SOC 2"


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        ([f"t{i}" for i in range(51)], "at most 50 terms (this list has 51)"),
        (["ok", " \t"], "term 2 is empty"),
        (["é" * 61], f'term 1 ("{"é" * 20}…") is longer than 60 characters'),
        (["SOC 2", "soc 2 "], '"soc 2" is listed twice'),
        ("SOC 2", "must be a list of terms"),
        (["ok", 7], "term 2 is not text"),
    ],
)
def test_a_bad_list_is_refused_saying_why(terms, reason):
    with pytest.raises(FormatError) as caught:
        validate_key_terms(terms)
    assert str(caught.value) == f"key_terms is invalid: {reason}"


def test_the_most_allowed_passes():
    validate_key_terms([f"{i:02d}{'x' * 58}" for i in range(50)])
    validate_key_terms([])


def test_a_scenario_file_with_bad_terms_is_refused():
    data = {**cold_call().content(), "id": "x", "key_terms": ["A", "a"]}
    with pytest.raises(ScenarioError, match='"a" is listed twice'):
        Scenario.from_json(data)
    data["key_terms"] = ["Acme"]
    assert Scenario.from_json(data).key_terms == ("Acme",)
