"""app.formats refuses exactly what the database refuses, in the same words; the schemas agree.

The corpus is tests/data/formats/<format>/{valid,invalid}/*.json. A valid file is a document; an
invalid file is {"why", "error" (the database's message, word for word), "schema_refuses" (whether
the JSON Schema alone refuses it, i.e. the broken rule is structural), "document"}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from app import formats
from app.formats import (
    FORMATS,
    INTENTS,
    SPEAKERS,
    VALIDATORS,
    FormatError,
    schema,
    schema_validator,
)
from app.kpis import KPI_NAMES

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "formats"
MIGRATIONS = REPO / "supabase" / "migrations"


@dataclass(frozen=True)
class Case:
    format: str
    name: str
    document: Any
    error: str | None  # None: valid
    schema_refuses: bool

    @property
    def id(self) -> str:
        return f"{self.format}/{'invalid' if self.error else 'valid'}/{self.name}"


def load_corpus() -> list[Case]:
    cases = []
    for fmt in FORMATS:
        for path in sorted((CORPUS / fmt / "valid").glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            cases.append(Case(fmt, path.stem, document, None, False))
        for path in sorted((CORPUS / fmt / "invalid").glob("*.json")):
            entry = json.loads(path.read_text(encoding="utf-8"))
            cases.append(
                Case(fmt, path.stem, entry["document"], entry["error"], entry["schema_refuses"])
            )
    return cases


CASES = load_corpus()
VALID = [c for c in CASES if c.error is None]
INVALID = [c for c in CASES if c.error is not None]


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


def python_verdict(fmt: str, document: Any) -> str | None:
    try:
        VALIDATORS[fmt](document)
    except FormatError as error:
        return str(error)
    return None


def sql_verdict(conn: psycopg.Connection, fmt: str, document: Any) -> str | None:
    """The database's message for the document, or None if it accepts it."""
    # json.dumps writes each float as repr(): the text Postgres parses is the number Python has.
    try:
        conn.execute(f"select private.validate_{fmt}(%s::jsonb)", (json.dumps(document),))
    except psycopg.errors.CheckViolation as error:
        conn.rollback()
        return error.diag.message_primary
    return None


def walk(document: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


# --- the corpus -----------------------------------------------------------------------------


def test_corpus_has_enough_cases_of_every_format() -> None:
    for fmt in FORMATS:
        assert len([c for c in VALID if c.format == fmt]) >= 2, fmt
        assert len([c for c in INVALID if c.format == fmt]) >= 6, fmt


# One pattern per `private.invalid(...)` call in the migrations, in the order they appear.
SQL_RULES: dict[str, list[str]] = {
    "persona": [
        r"must be a JSON object",
        r'"name" must be a non-empty string',
        r'"role" must be a non-empty string',
    ],
    "branching": [
        r"must be a JSON object",
        r'"nodes" must be a non-empty array',
        r"nodes\[\d+\] must be an object",
        r"nodes\[\d+\]\.id must be a non-empty string",
        r'node id ".*" is used twice',
        r"nodes\[\d+\]\.persona_line must be a non-empty string",
        r"nodes\[\d+\]\.end must be true or false",
        r'"start" must name a node',
        r'"start" points at unknown node ".*"',
        r'node ".*": "edges" must be an array',
        r'node ".*" is an end node and cannot have edges',
        r'node ".*" is not an end node, so it needs at least one edge',
        r'node ".*" edges\[\d+\] must be an object',
        r'node ".*" edges\[\d+\]\.to must name a node',
        r'node ".*" edges\[\d+\] points at unknown node ".*"',
        r'node ".*" edges\[\d+\] is a default edge and cannot have "when"',
        r'node ".*" edges\[\d+\] needs "when" or "default": true',
        r'node ".*" edges\[\d+\]\.when must have exactly one of keywords, phrases, intent',
        r'node ".*" edges\[\d+\]\.when\.keywords must be a non-empty list of strings',
        r'node ".*" edges\[\d+\]\.when\.phrases must be a non-empty list of strings',
        r'node ".*" edges\[\d+\]\.when\.intent must be agree, decline, question or objection',
        r'node ".*" edges\[\d+\]\.when must have exactly one of keywords, phrases, intent',
        r'node ".*" has more than one default edge',
        r"at least one node must be an end node",
    ],
    "rubric": [
        r"must be a JSON object",
        r'"criteria" must be a non-empty array',
        r"criteria\[\d+\] must be an object",
        r"criteria\[\d+\]\.id must be a non-empty string",
        r'criterion id ".*" is used twice',
        r"criteria\[\d+\]\.weight must be a number from 0 to 1",
        r'criteria\[\d+\]\.kpi ".*" is not a known KPI',
        r'criteria\[\d+\]\.target must be an object with "min" and/or "max"',
        r"criteria\[\d+\]\.target min and max must be numbers",
        r"criteria\[\d+\]\.target min must not exceed max",
        r"criteria\[\d+\]\.tolerance must be a number >= 0",
        r"criteria\[\d+\]\.keywords must be a non-empty list of non-empty lists of phrases",
        r'criteria\[\d+\]\.type must be "kpi" or "keywords"',
        r"weights must sum to 1 \(they sum to [0-9.]+\)",
    ],
    "transcript": [
        r"must be a JSON object",
        r'"turns" must be an array',
        r"turns\[\d+\] must be an object",
        r'turns\[\d+\]\.speaker must be "rep" or "persona"',
        r"turns\[\d+\]\.start must be a number of seconds >= 0",
        r"turns\[\d+\]\.start must be a number of seconds >= 0",
        r"turns\[\d+\]\.end must be a number >= start",
        r"turns\[\d+\]\.end must be a number >= start",
        r"turns\[\d+\]\.text must be a string",
        r"turns\[\d+\] starts before the turn before it; turns must be in time order",
        r"turns\[\d+\]\.words must be an array",
        r'turns\[\d+\]\.words\[\d+\] needs "word" \(string\), "start" and "end" \(numbers\)',
        r"turns\[\d+\]\.words\[\d+\]\.end must be >= start",
    ],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_sql_rule_has_an_invalid_document(fmt: str) -> None:
    sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted(MIGRATIONS.glob("*.sql")))
    # A new check in SQL must come with a pattern here and a document in the corpus.
    assert len(SQL_RULES[fmt]) == sql.count(f"private.invalid('{fmt}'")
    messages = [c.error for c in INVALID if c.format == fmt]
    prefix = f"{fmt} is invalid: "
    for rule in SQL_RULES[fmt]:
        assert any(re.fullmatch(re.escape(prefix) + rule, m) for m in messages), rule
    for message in messages:
        assert any(re.fullmatch(re.escape(prefix) + r, message) for r in SQL_RULES[fmt]), message


@pytest.mark.parametrize("case", params(VALID))
def test_python_accepts_valid_documents(case: Case) -> None:
    VALIDATORS[case.format](case.document)


@pytest.mark.parametrize("case", params(INVALID))
def test_python_refuses_invalid_documents_in_the_databases_words(case: Case) -> None:
    with pytest.raises(FormatError) as caught:
        VALIDATORS[case.format](case.document)
    error = caught.value
    assert str(error) == case.error
    assert error.what == case.format
    assert str(error) == f"{error.what} is invalid: {error.reason}"
    # The path leads into the document: all of it exists but (for a missing key) the last step.
    assert isinstance(error.path, tuple)
    walk(case.document, error.path[:-1])
    assert error.pointer == "".join(f"/{step}" for step in error.path)


@pytest.mark.parametrize("case", params(CASES))
def test_database_agrees(admin_conn: psycopg.Connection, case: Case) -> None:
    sql = sql_verdict(admin_conn, case.format, case.document)
    assert sql == case.error
    assert python_verdict(case.format, case.document) == sql


@pytest.mark.parametrize("case", params(CASES))
def test_schema_alone_refuses_exactly_the_structural_problems(case: Case) -> None:
    # Structural rules are all in the schema; what it accepts here fails a cross-reference rule.
    assert schema_validator(case.format).is_valid(case.document) is not case.schema_refuses


# --- the schemas ----------------------------------------------------------------------------


def described_subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property's schema, and every $defs entry, anywhere in a schema."""
    if isinstance(node, dict):
        for key in ("properties", "$defs"):
            for name, sub in node.get(key, {}).items():
                yield f"{where}/{key}/{name}", sub
        for key, value in node.items():
            if key not in ("enum", "const", "required"):
                yield from described_subschemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from described_subschemas(value, f"{where}/{i}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_schema_is_draft_2020_12_with_id_titles_and_descriptions(fmt: str) -> None:
    document = schema(fmt)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"https://coachdesk.app/schemas/{fmt}.schema.json"
    schema_validator(fmt).check_schema(document)
    assert document["title"] and document["description"]
    subschemas = list(described_subschemas(document))
    assert len(subschemas) > 3
    for where, sub in subschemas:
        # A bare {"$ref": ...} takes its title and description from the definition.
        if set(sub) != {"$ref"}:
            assert sub.get("title") and sub.get("description"), where


def test_a_schema_stricter_than_the_rules_refuses_rather_than_lets_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stricter = Draft202012Validator({"required": ["company"]})
    monkeypatch.setattr(formats, "schema_validator", lambda name: stricter)
    with pytest.raises(FormatError) as caught:
        formats.validate_persona({"name": "Raj", "role": "CFO"})
    assert str(caught.value) == (
        "persona is invalid: does not match persona.schema.json: 'company' is a required property"
    )


def test_schema_enums_match_the_database(admin_conn: psycopg.Connection) -> None:
    kpi_names = admin_conn.execute("select private.kpi_names() as names").fetchone()["names"]
    assert schema("rubric")["$defs"]["kpiName"]["enum"] == kpi_names == list(KPI_NAMES)
    condition = schema("branching")["$defs"]["condition"]["properties"]
    assert tuple(condition["intent"]["enum"]) == INTENTS
    turn = schema("transcript")["$defs"]["turn"]["properties"]
    assert tuple(turn["speaker"]["enum"]) == SPEAKERS


@pytest.mark.parametrize("intent", [*INTENTS, "Agree", "agreed", ""])
def test_every_intent_and_only_those(admin_conn: psycopg.Connection, intent: str) -> None:
    document = {
        "start": "a",
        "nodes": [
            {"id": "a", "persona_line": "Hi", "edges": [{"to": "b", "when": {"intent": intent}}]},
            {"id": "b", "persona_line": "Bye", "end": True},
        ],
    }
    expected = (
        None
        if intent in INTENTS
        else 'branching is invalid: node "a" edges[0].when.intent must be agree, decline, '
        "question or objection"
    )
    assert sql_verdict(admin_conn, "branching", document) == expected
    assert python_verdict("branching", document) == expected


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(" ", False), ("   ", False), ("\t", True), ("\n", True), ("\u00a0", True), (" x ", True)],
)
def test_only_spaces_make_a_string_blank(
    admin_conn: psycopg.Connection, value: str, accepted: bool
) -> None:
    # btrim() trims spaces only; str.strip() would also trim tabs and no-break spaces.
    document = {"name": value, "role": "CFO"}
    expected = None if accepted else 'persona is invalid: "name" must be a non-empty string'
    assert sql_verdict(admin_conn, "persona", document) == expected
    assert python_verdict("persona", document) == expected
    assert schema_validator("persona").is_valid(document) is accepted


# --- numbers are compared and printed as Postgres numeric does -------------------------------


@pytest.mark.parametrize(
    ("rubric_text", "message"),
    [
        # Trailing zeros survive in numeric, so the sum is printed with them.
        (
            '{"criteria": [{"id": "a", "weight": 0.30, "type": "keywords", "keywords": [["x"]]},'
            ' {"id": "b", "weight": 0.3, "type": "keywords", "keywords": [["y"]]}]}',
            "rubric is invalid: weights must sum to 1 (they sum to 0.60)",
        ),
        # An exponent is expanded; -0 is 0.
        (
            '{"criteria": [{"id": "a", "weight": 1e-5, "type": "keywords", "keywords": [["x"]]},'
            ' {"id": "b", "weight": -0.0, "type": "keywords", "keywords": [["y"]]}]}',
            "rubric is invalid: weights must sum to 1 (they sum to 0.00001)",
        ),
        # Exactly 0.0001 short is still accepted; float arithmetic would say 0.00010000000000009.
        (
            '{"criteria": [{"id": "a", "weight": 0.7, "type": "keywords", "keywords": [["x"]]},'
            ' {"id": "b", "weight": 0.2999, "type": "keywords", "keywords": [["y"]]}]}',
            None,
        ),
        # A KPI that is not a string is printed as jsonb prints it: keys shortest first.
        (
            '{"criteria": [{"id": "a", "weight": 1, "type": "kpi",'
            ' "kpi": {"bb": 1E-7, "a": [1, 2.50, true, null, "é\\n"]}, "target": {"min": 1}}]}',
            'rubric is invalid: criteria[0].kpi "{"a": [1, 2.50, true, null, "é\\n"], '
            '"bb": 0.0000001}" is not a known KPI',
        ),
    ],
)
def test_numbers_as_numeric(admin_conn: psycopg.Connection, rubric_text: str, message: str) -> None:
    # The text goes to Postgres as is; Python reads it with exact decimals, as an editor would.
    try:
        admin_conn.execute("select private.validate_rubric(%s::jsonb)", (rubric_text,))
        sql = None
    except psycopg.errors.CheckViolation as error:
        sql = error.diag.message_primary
    assert sql == message
    assert python_verdict("rubric", json.loads(rubric_text, parse_float=Decimal)) == message


# --- the seed content -----------------------------------------------------------------------


def test_seed_documents_pass_the_python_validators(admin_conn: psycopg.Connection) -> None:
    rows = admin_conn.execute(
        "select persona::text, branching::text, rubric::text from public.scenarios"
    ).fetchall()
    assert len(rows) >= 5
    for row in rows:
        for fmt in ("persona", "branching", "rubric"):
            VALIDATORS[fmt](json.loads(row[fmt]))
    transcripts = admin_conn.execute(
        "select transcript::text from public.scenario_attempts where transcript is not null"
    ).fetchall()
    assert transcripts
    for row in transcripts:
        VALIDATORS["transcript"](json.loads(row["transcript"]))


def test_documentation_examples_are_valid(admin_conn: psycopg.Connection) -> None:
    text = (REPO / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, flags=re.S)]
    by_key = {"name": "persona", "nodes": "branching", "criteria": "rubric", "turns": "transcript"}
    formats = [next(by_key[k] for k in by_key if k in block) for block in blocks]
    assert sorted(formats) == sorted(FORMATS)
    for fmt, block in zip(formats, blocks, strict=True):
        assert python_verdict(fmt, block) is None
        assert sql_verdict(admin_conn, fmt, block) is None


# --- generated documents: mutations of the valid corpus -------------------------------------

STRINGS = [
    "", " ", "\t", "open", "close", "done", "a b", "rep", "persona", "kpi", "keywords",
    "talk_ratio", "questions_asked", "agree", "question", "objection", "maybe", "x", "é",
]  # fmt: skip
NUMBERS = [0, 1, -1, 2, 0.5, 1.5, -0.5, 0.3333, 0.9999, 1.00005, 1e-7, 2.9, 3.0, 12.5, -0.0]
KEYS = [
    "id", "name", "role", "start", "nodes", "persona_line", "end", "edges", "to", "default",
    "when", "keywords", "phrases", "intent", "criteria", "weight", "type", "kpi", "target", "min",
    "max", "tolerance", "turns", "speaker", "text", "words", "word", "label",
]  # fmt: skip
# Postgres cannot store NUL or lone surrogates in jsonb at all, so no document has them.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=4
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.sampled_from(NUMBERS)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-5, 5)
    | st.sampled_from(STRINGS)
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)


def slots(document: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every place in a document a value sits at."""
    yield path
    children = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, value in children:
        yield from slots(value, (*path, key))


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> Any:
    case = draw(st.sampled_from([c for c in VALID if c.format == fmt]))
    document = json.loads(json.dumps(case.document))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(slots(document))))
        action = draw(st.sampled_from(["delete", "replace", "copy", "swap", "related"]))
        if not path:
            if action == "replace":
                document = draw(JSON_VALUES)
            continue
        parent, key = walk(document, path[:-1]), path[-1]
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(JSON_VALUES)
        elif action == "copy" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), json.loads(json.dumps(parent[key])))
        elif action == "swap" and isinstance(parent, list):
            other = draw(st.integers(0, len(parent) - 1))
            parent[key], parent[other] = parent[other], parent[key]
        elif action == "related":
            # Values of the same document: dangling and duplicate ids, other nodes' keys.
            values = [walk(document, p) for p in slots(document) if p]
            parent[key] = json.loads(json.dumps(draw(st.sampled_from(values))))
    return document


@pytest.fixture(scope="module")
def db(database_dsn: str) -> Iterator[psycopg.Connection]:
    """One connection for all examples; the validators are immutable functions."""
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_documents_get_the_same_verdict(
    db: psycopg.Connection, fmt: str, data: st.DataObject
) -> None:
    document = data.draw(mutated(fmt))
    python = python_verdict(fmt, document)
    assert python == sql_verdict(db, fmt, document)
    # The schema is never stricter than the rules: what they accept, it accepts.
    if python is None:
        assert schema_validator(fmt).is_valid(document)
