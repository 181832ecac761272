"""The persona, branching, rubric and transcript formats, validated exactly as the database does.

An author's editor or the practice engine checks a document here before it is saved or synced, and
gets the same verdict and the same words the database would answer with
(`private.validate_persona` / `_branching` / `_rubric` / `_transcript`, migrations 0300 and
0400), so an upload is never refused for a reason the app did not show first. Each validator
walks the document in the order the SQL does, because a document with several problems must
report the same first one. The published JSON Schemas in resources/schemas/ are checked too: they
state every structural rule; what they cannot state (unique ids, references between nodes,
weights adding up, times in order) is checked in code. Formats and rules: docs/scenario-format.md.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, NoReturn

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from app.kpis import KPI_NAMES

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "resources" / "schemas"
FORMATS = ("persona", "branching", "rubric", "transcript")
INTENTS = ("agree", "decline", "question", "objection")
SPEAKERS = ("rep", "persona")
# How far the weights may add up from 1: rounding in an editor's arithmetic, not real slack.
WEIGHT_SUM_TOLERANCE = Decimal("0.0001")
# Enough digits that every sum of JSON numbers is exact, as Postgres numeric is.
_EXACT_DIGITS = 1000

Path_ = tuple[str | int, ...]


class FormatError(ValueError):
    """A document the database would refuse. str() is the database's message, word for word.

    `what` is the format ("rubric"), `reason` the message without the "<what> is invalid: "
    prefix, and `path` where the problem is: keys and array indexes from the document's root,
    () for the document as a whole (e.g. `("nodes", 2, "edges", 0, "to")`).
    """

    def __init__(self, what: str, reason: str, path: Path_ = ()) -> None:
        super().__init__(f"{what} is invalid: {reason}")
        self.what = what
        self.reason = reason
        self.path = path

    @property
    def pointer(self) -> str:
        """`path` as a JSON Pointer (RFC 6901), e.g. "/nodes/2/edges/0/to"."""
        parts = (str(p).replace("~", "~0").replace("/", "~1") for p in self.path)
        return "".join("/" + part for part in parts)


def _refuse(what: str, reason: str, *path: str | int) -> NoReturn:
    raise FormatError(what, reason, path)


# JSON types as jsonb_typeof sees them. bool is not a number (Python's True == 1 is not JSON's),
# and NaN/Infinity are not JSON at all (Postgres cannot even parse a document that has one).
# Documents are what json.loads returns: dict and list (the types jsonschema checks, too).
def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_array(value: Any) -> bool:
    return isinstance(value, list)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _decimal(value: int | float | Decimal) -> Decimal:
    """A JSON number as Postgres numeric reads it: a float through repr(), the text json sends."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _is_number_in(value: Any, low: int | None, high: int | None) -> bool:
    """private.is_number_in: a number within [low, high]; a None bound is open."""
    if not _is_number(value):
        return False
    number = _decimal(value)
    return (low is None or number >= low) and (high is None or number <= high)


def _is_nonempty_string(value: Any) -> bool:
    """private.is_nonempty_string. btrim() removes spaces only, so a lone tab counts as text."""
    return isinstance(value, str) and value.strip(" ") != ""


def _is_string_list(value: Any) -> bool:
    """private.is_string_list: a non-empty array of non-empty strings."""
    return _is_array(value) and len(value) > 0 and all(_is_nonempty_string(v) for v in value)


def _numeric_text(value: int | float | Decimal) -> str:
    """A number as Postgres prints numeric: no exponent, the input's decimals kept, no "-0"."""
    number = _decimal(value)
    return format(number.copy_abs() if number.is_zero() else number, "f")


def _jsonb_text(value: Any) -> str:
    """What `->>` and format('%s', ...) make of a JSON value ("" for a missing key or null)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _jsonb_json(value)


def _jsonb_json(value: Any) -> str:
    """A JSON value as jsonb prints it: ", " and ": " separators, keys shortest first."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if _is_number(value):
        return _numeric_text(value)
    if _is_array(value):
        return "[" + ", ".join(_jsonb_json(v) for v in value) + "]"
    if _is_object(value):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        items = (f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_json(value[k])}" for k in keys)
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


# --- persona -------------------------------------------------------------------------------------


def _check_persona(persona: Any) -> None:
    what = "persona"
    if not _is_object(persona):
        _refuse(what, "must be a JSON object")
    for key in ("name", "role"):
        if not _is_nonempty_string(persona.get(key)):
            _refuse(what, f'"{key}" must be a non-empty string', key)


# --- branching -----------------------------------------------------------------------------------


def _check_branching(branching: Any) -> None:
    what = "branching"
    if not _is_object(branching):
        _refuse(what, "must be a JSON object")
    nodes = branching.get("nodes")
    if not _is_array(nodes) or len(nodes) == 0:
        _refuse(what, '"nodes" must be a non-empty array', "nodes")

    ids: list[str] = []
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if not _is_object(node):
            _refuse(what, f"{where} must be an object", "nodes", i)
        if not _is_nonempty_string(node.get("id")):
            _refuse(what, f"{where}.id must be a non-empty string", "nodes", i, "id")
        if node["id"] in ids:
            _refuse(what, f'node id "{node["id"]}" is used twice', "nodes", i, "id")
        if not _is_nonempty_string(node.get("persona_line")):
            _refuse(
                what, f"{where}.persona_line must be a non-empty string", "nodes", i, "persona_line"
            )
        if "end" in node and not isinstance(node["end"], bool):
            _refuse(what, f"{where}.end must be true or false", "nodes", i, "end")
        ids.append(node["id"])

    start = branching.get("start")
    if not _is_nonempty_string(start):
        _refuse(what, '"start" must name a node', "start")
    if start not in ids:
        _refuse(what, f'"start" points at unknown node "{start}"', "start")

    for i, node in enumerate(nodes):
        _check_node_edges(node, i, ids)

    if not any(node.get("end") is True for node in nodes):
        _refuse(what, "at least one node must be an end node", "nodes")


def is_position(value: Any) -> bool:
    """A node's "position" in the studio's graph editor: {"x": number, "y": number, ...}.

    Not a validation rule: the database (private.validate_branching) accepts any value there,
    and so does validate_branching, exactly as strict; the editor lays out a node whose
    position is not one of these as if it had none."""
    return _is_object(value) and _is_number(value.get("x")) and _is_number(value.get("y"))


def _check_node_edges(node: Mapping[str, Any], i: int, ids: list[str]) -> None:
    what = "branching"
    where = f'node "{node["id"]}"'
    is_end = node.get("end") is True
    if "edges" in node and not _is_array(node["edges"]):
        _refuse(what, f'{where}: "edges" must be an array', "nodes", i, "edges")
    edges = node.get("edges") or []
    if is_end and len(edges) > 0:
        _refuse(what, f"{where} is an end node and cannot have edges", "nodes", i, "edges")
    if not is_end and len(edges) == 0:
        _refuse(
            what, f"{where} is not an end node, so it needs at least one edge", "nodes", i, "edges"
        )

    defaults = 0
    for j, edge in enumerate(edges):
        edge_where = f"{where} edges[{j}]"
        at: Path_ = ("nodes", i, "edges", j)
        if not _is_object(edge):
            _refuse(what, f"{edge_where} must be an object", *at)
        if not _is_nonempty_string(edge.get("to")):
            _refuse(what, f"{edge_where}.to must name a node", *at, "to")
        if edge["to"] not in ids:
            _refuse(what, f'{edge_where} points at unknown node "{edge["to"]}"', *at, "to")
        # Only the JSON value true makes a default edge; "default": false is a conditional edge.
        if edge.get("default") is True:
            if "when" in edge:
                _refuse(what, f'{edge_where} is a default edge and cannot have "when"', *at, "when")
            defaults += 1
        else:
            _check_condition(edge.get("when"), edge_where, at)
    if defaults > 1:
        _refuse(what, f"{where} has more than one default edge", "nodes", i, "edges")


def _check_condition(when: Any, edge_where: str, at: Path_) -> None:
    what = "branching"
    exactly_one = f"{edge_where}.when must have exactly one of keywords, phrases, intent"
    if not _is_object(when):
        _refuse(what, f'{edge_where} needs "when" or "default": true', *at)
    if len(when) != 1:
        _refuse(what, exactly_one, *at, "when")
    for key in ("keywords", "phrases"):
        if key in when and not _is_string_list(when[key]):
            _refuse(
                what,
                f"{edge_where}.when.{key} must be a non-empty list of strings",
                *at,
                "when",
                key,
            )
    if "intent" in when and when["intent"] not in INTENTS:
        _refuse(
            what,
            f"{edge_where}.when.intent must be agree, decline, question or objection",
            *at,
            "when",
            "intent",
        )
    if not ("keywords" in when or "phrases" in when or "intent" in when):
        _refuse(what, exactly_one, *at, "when")


# --- rubric --------------------------------------------------------------------------------------


def _check_rubric(rubric: Any) -> None:
    what = "rubric"
    if not _is_object(rubric):
        _refuse(what, "must be a JSON object")
    criteria = rubric.get("criteria")
    if not _is_array(criteria) or len(criteria) == 0:
        _refuse(what, '"criteria" must be a non-empty array', "criteria")

    ids: list[str] = []
    total = Decimal(0)
    for i, criterion in enumerate(criteria):
        where = f"criteria[{i}]"
        if not _is_object(criterion):
            _refuse(what, f"{where} must be an object", "criteria", i)
        if not _is_nonempty_string(criterion.get("id")):
            _refuse(what, f"{where}.id must be a non-empty string", "criteria", i, "id")
        if criterion["id"] in ids:
            _refuse(what, f'criterion id "{criterion["id"]}" is used twice', "criteria", i, "id")
        if not _is_number_in(criterion.get("weight"), 0, 1):
            _refuse(what, f"{where}.weight must be a number from 0 to 1", "criteria", i, "weight")
        ids.append(criterion["id"])
        # Exact like numeric: 0.30 + 0.3 is 0.60, and the message shows those digits.
        with localcontext(prec=_EXACT_DIGITS):
            total += _decimal(criterion["weight"])

        kind = criterion.get("type")
        if kind == "kpi":
            _check_kpi_criterion(criterion, where, i)
        elif kind == "keywords":
            groups = criterion.get("keywords")
            if not _is_array(groups) or len(groups) == 0 or not all(map(_is_string_list, groups)):
                _refuse(
                    what,
                    f"{where}.keywords must be a non-empty list of non-empty lists of phrases",
                    "criteria",
                    i,
                    "keywords",
                )
        else:
            _refuse(what, f'{where}.type must be "kpi" or "keywords"', "criteria", i, "type")

    if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        _refuse(what, f"weights must sum to 1 (they sum to {_numeric_text(total)})", "criteria")


def _check_kpi_criterion(criterion: Mapping[str, Any], where: str, i: int) -> None:
    what = "rubric"
    kpi = criterion.get("kpi")
    if kpi not in KPI_NAMES:
        _refuse(what, f'{where}.kpi "{_jsonb_text(kpi)}" is not a known KPI', "criteria", i, "kpi")
    target = criterion.get("target")
    at: Path_ = ("criteria", i, "target")
    if not _is_object(target) or not ("min" in target or "max" in target):
        _refuse(what, f'{where}.target must be an object with "min" and/or "max"', *at)
    for bound in ("min", "max"):
        if bound in target and not _is_number(target[bound]):
            _refuse(what, f"{where}.target min and max must be numbers", *at, bound)
    if "min" in target and "max" in target and _decimal(target["min"]) > _decimal(target["max"]):
        _refuse(what, f"{where}.target min must not exceed max", *at)
    if "tolerance" in criterion and not _is_number_in(criterion["tolerance"], 0, None):
        _refuse(what, f"{where}.tolerance must be a number >= 0", "criteria", i, "tolerance")


# --- transcript ----------------------------------------------------------------------------------


def _check_transcript(transcript: Any) -> None:
    what = "transcript"
    if not _is_object(transcript):
        _refuse(what, "must be a JSON object")
    turns = transcript.get("turns")
    if not _is_array(turns):
        _refuse(what, '"turns" must be an array', "turns")

    previous_start = Decimal(0)
    for i, turn in enumerate(turns):
        where = f"turns[{i}]"
        at: Path_ = ("turns", i)
        if not _is_object(turn):
            _refuse(what, f"{where} must be an object", *at)
        if turn.get("speaker") not in SPEAKERS:
            _refuse(what, f'{where}.speaker must be "rep" or "persona"', *at, "speaker")
        if not _is_number_in(turn.get("start"), 0, None):
            _refuse(what, f"{where}.start must be a number of seconds >= 0", *at, "start")
        start = _decimal(turn["start"])
        if not _is_number(turn.get("end")) or _decimal(turn["end"]) < start:
            _refuse(what, f"{where}.end must be a number >= start", *at, "end")
        if not isinstance(turn.get("text"), str):
            _refuse(what, f"{where}.text must be a string", *at, "text")
        if start < previous_start:
            _refuse(
                what,
                f"{where} starts before the turn before it; turns must be in time order",
                *at,
                "start",
            )
        if "words" in turn and not _is_array(turn["words"]):
            _refuse(what, f"{where}.words must be an array", *at, "words")
        previous_start = start
        for j, word in enumerate(turn.get("words") or []):
            _check_word(word, f"{where}.words[{j}]", (*at, "words", j))


def _check_word(word: Any, where: str, at: Path_) -> None:
    if not (
        _is_object(word)
        and isinstance(word.get("word"), str)
        and _is_number(word.get("start"))
        and _is_number(word.get("end"))
    ):
        _refuse("transcript", f'{where} needs "word" (string), "start" and "end" (numbers)', *at)
    if _decimal(word["end"]) < _decimal(word["start"]):
        _refuse("transcript", f"{where}.end must be >= start", *at, "end")


# --- public API ----------------------------------------------------------------------------------


@functools.cache
def _schema_text(name: str) -> str:
    if name not in FORMATS:
        raise KeyError(f"no format {name!r}; formats: {', '.join(FORMATS)}")
    return (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")


def schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of a format ("persona", "branching", "rubric", "transcript")."""
    return json.loads(_schema_text(name))


@functools.cache
def schema_validator(name: str) -> Draft202012Validator:
    """A validator for the published schema alone (structure only, no cross-references)."""
    document = schema(name)
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def _validate(name: str, check: Callable[[Any], None], document: Any) -> None:
    check(document)
    # The schemas say nothing the checks above do not (tests/app/test_formats.py); an error here
    # means schema and database have drifted apart, and the document is refused, not let through.
    error = best_match(schema_validator(name).iter_errors(document))
    if error is not None:
        raise FormatError(
            name,
            f"does not match {name}.schema.json: {error.message}",
            tuple(error.absolute_path),
        )


def validate_persona(document: Any) -> None:
    """Raise FormatError if the database would refuse this persona (private.validate_persona)."""
    _validate("persona", _check_persona, document)


def validate_branching(document: Any) -> None:
    """Raise FormatError if the database would refuse this dialog (private.validate_branching)."""
    _validate("branching", _check_branching, document)


def validate_rubric(document: Any) -> None:
    """Raise FormatError if the database would refuse this rubric (private.validate_rubric)."""
    _validate("rubric", _check_rubric, document)


def validate_transcript(document: Any) -> None:
    """Raise FormatError if the database would refuse this transcript (validate_transcript)."""
    _validate("transcript", _check_transcript, document)


VALIDATORS: dict[str, Callable[[Any], None]] = {
    "persona": validate_persona,
    "branching": validate_branching,
    "rubric": validate_rubric,
    "transcript": validate_transcript,
}
