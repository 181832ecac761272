"""app.branching_check: the database's verdict first, then each graph rule on a small dialog,
the sample scenarios clean, and the layout of nodes without a stored position."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.branching_check import (
    COLUMN_SPACING,
    ROW_SPACING,
    Problem,
    check_branching,
    describe_edge,
    layout,
)
from app.formats import FormatError, validate_branching

REPO = Path(__file__).resolve().parents[2]
SAMPLES = json.loads((REPO / "resources" / "sample" / "scenarios.json").read_text("utf-8"))


def node(node_id: str, *edges: dict[str, Any], end: bool = False) -> dict[str, Any]:
    made: dict[str, Any] = {"id": node_id, "persona_line": f"Line of {node_id}."}
    if end:
        made["end"] = True
    else:
        made["edges"] = list(edges)
    return made


def default(to: str) -> dict[str, Any]:
    return {"to": to, "default": True}


def when(to: str, **condition: Any) -> dict[str, Any]:
    return {"to": to, "when": condition}


def dialog(*nodes: dict[str, Any], start: str = "a") -> dict[str, Any]:
    return {"version": 1, "start": start, "nodes": list(nodes)}


def rules(problems: list[Problem]) -> list[tuple[str, str | None, str]]:
    return [(p.rule, p.node_id, p.severity) for p in problems]


CLEAN = dialog(
    node("a", when("b", intent="question"), default("e")),
    node("b", when("a", keywords=["again"]), default("e")),
    node("e", end=True),
)


def test_a_clean_dialog_has_no_problems() -> None:
    assert check_branching(CLEAN) == []


@pytest.mark.parametrize(
    "scenario", SAMPLES["scenarios"], ids=[s["title"] for s in SAMPLES["scenarios"]]
)
def test_every_sample_scenario_has_no_errors(scenario: dict[str, Any]) -> None:
    assert [p for p in check_branching(scenario["branching"]) if p.severity == "error"] == []


def test_the_databases_refusal_comes_first_located_at_its_edge() -> None:
    document = copy.deepcopy(CLEAN)
    document["nodes"][1]["edges"][0] = {"to": "zz", "when": {"keywords": ["x"]}}
    problems = check_branching(document)
    with pytest.raises(FormatError) as caught:
        validate_branching(document)
    first = problems[0]
    assert (first.severity, first.rule, first.message) == ("error", "format", str(caught.value))
    assert (first.node_id, first.node_index, first.edge) == ("b", 1, 0)


def test_a_refusal_of_the_whole_document_has_no_place() -> None:
    (problem,) = [p for p in check_branching({"nodes": []}) if p.rule == "format"]
    assert (problem.node_id, problem.node_index, problem.edge) == (None, None, None)
    assert problem.message == 'branching is invalid: "nodes" must be a non-empty array'
    assert (
        check_branching("not a dialog")[0].message == "branching is invalid: must be a JSON object"
    )


def test_graph_rules_still_run_on_a_refused_document() -> None:
    document = dialog(node("a", default("e")), node("lost"), node("e", end=True))
    assert rules(check_branching(document)) == [
        ("format", "lost", "error"),  # not an end node, and no edges
        ("unreachable", "lost", "error"),
        ("no_end", "lost", "error"),
    ]


def test_unreachable_nodes() -> None:
    document = dialog(node("a", default("e")), node("island", default("e")), node("e", end=True))
    (problem,) = check_branching(document)
    assert rules([problem]) == [("unreachable", "island", "error")]
    assert problem.node_index == 1
    assert problem.message == 'node "island" cannot be reached from the start node "a"'


def test_nodes_with_no_path_to_an_end_node_and_the_loop_they_lead_into() -> None:
    document = dialog(
        node("a", when("e", intent="agree"), default("b")),
        node("b", default("c")),
        node("c", when("b", intent="agree"), default("d")),
        node("d", default("c")),
        node("e", end=True),
    )
    assert rules(check_branching(document)) == [
        ("trapped", "b", "error"),
        ("trapped", "c", "error"),
        ("trapped", "d", "error"),
    ]
    message = check_branching(document)[0].message
    assert message == (
        'node "b" is in a loop with no exit ("b", "c", "d"): once there, the call never reaches '
        "an end node"
    )


def test_a_node_leading_into_a_loop_has_no_path_but_is_not_in_it() -> None:
    document = dialog(
        node("a", when("e", intent="agree"), default("b")),
        node("b", default("c")),
        node("c", default("c")),  # a loop onto itself
        node("e", end=True),
    )
    assert rules(check_branching(document)) == [
        ("no_end", "b", "error"),
        ("trapped", "c", "error"),
    ]


def test_a_loop_with_an_exit_is_fine() -> None:
    document = dialog(
        node("a", when("a", keywords=["again"]), default("b")),
        node("b", when("a", intent="decline"), default("e")),
        node("e", end=True),
    )
    assert check_branching(document) == []


def test_a_node_without_a_default_edge_is_a_warning() -> None:
    document = dialog(node("a", when("e", intent="agree")), node("e", end=True))
    (problem,) = check_branching(document)
    assert rules([problem]) == [("no_default", "a", "warning")]
    assert "waits silently" in problem.message


def test_a_long_chain_does_not_recurse() -> None:
    count = 2000  # well over the recursion limit
    nodes = [node(f"n{i}", default(f"n{i + 1}")) for i in range(count)]
    nodes.append(node(f"n{count}", default("n0")))  # one big loop, no end reachable
    nodes.append(node("e", end=True))
    problems = check_branching(dialog(*nodes, start="n0"))
    assert {p.rule for p in problems} == {"trapped", "unreachable"}
    assert sum(p.rule == "trapped" for p in problems) == count + 1


def test_positions_are_kept_and_never_refused_as_the_database_never_refuses_them() -> None:
    document = copy.deepcopy(CLEAN)
    document["nodes"][0]["position"] = {"x": 10, "y": -2.5, "note": "kept"}
    validate_branching(document)
    for odd in ({"x": 1}, {"x": "1", "y": 2}, [1, 2], "here"):
        document["nodes"][1]["position"] = odd
        validate_branching(document)  # private.validate_branching accepts it too
        assert not [p for p in check_branching(document) if p.severity == "error"]
    assert layout(document)[document["nodes"][0]["id"]] == (10, -2.5)


def test_layout_uses_stored_positions_and_layers_the_rest() -> None:
    document = dialog(
        node("a", when("b", intent="agree"), when("c", intent="decline"), default("d")),
        node("b", default("e")),
        node("c", default("e")),
        node("d", default("e")),
        node("e", end=True),
        node("island", default("e")),
    )
    document["nodes"][3]["position"] = {"x": 7, "y": 9}
    positions = layout(document)
    assert positions == {
        "a": (0.0, 0.0),
        "b": (COLUMN_SPACING, 0.0),
        "c": (COLUMN_SPACING, ROW_SPACING),
        "d": (7.0, 9.0),  # where the author put it
        "e": (2 * COLUMN_SPACING, 0.0),
        "island": (3 * COLUMN_SPACING, 0.0),  # unreachable: a column after the last
    }


def test_layout_of_a_document_with_holes() -> None:
    document = {"start": "nowhere", "nodes": [{"id": "a"}, "junk", {"id": "b", "edges": "x"}]}
    assert layout(document) == {"a": (0.0, 0.0), "b": (0.0, ROW_SPACING)}


def test_edge_descriptions() -> None:
    assert describe_edge(default("x")) == "default"
    assert describe_edge(when("x", intent="question")) == "intent question"
    assert describe_edge(when("x", keywords=["save", "cost"])) == "keywords save, cost"
    assert describe_edge(when("x", phrases=["how much"])) == "phrases how much"
    assert describe_edge(when("x", keywords=[])) == "keywords (none)"
    assert describe_edge({"to": "x"}) == "no condition"
