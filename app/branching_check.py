"""What is wrong with a branching dialog while an author edits it, and where its nodes sit.

`check_branching` reports the database's verdict first (app.formats.validate_branching: the rule
the server would refuse the document for), then what the database allows but a call would suffer
from: nodes the call can never reach, nodes from which it can never end, loops it can never leave,
and nodes without a default edge (where the persona waits silently when nothing matches, as
app.branching.choose does). Every problem names its node and edge, so an editor can show it
there. `layout` gives every node a place: its stored "position", else a layered layout by
distance from the start node. No Qt: the studio's editor (ui/studio) draws what this says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.formats import FormatError, is_position, validate_branching

Severity = Literal["error", "warning"]
Rule = Literal["format", "unreachable", "no_end", "trapped", "no_default"]

# Layered layout: a column per step from the start node, a row per node in the column.
COLUMN_SPACING = 340.0  # room between columns for an edge's label
ROW_SPACING = 140.0


@dataclass(frozen=True)
class Problem:
    """One problem of a dialog, at a node (`node_id`, `node_index` in "nodes") and maybe one of
    its edges (`edge`, the index in that node's "edges"); neither for the document as a whole."""

    severity: Severity
    rule: Rule
    message: str
    node_id: str | None = None
    node_index: int | None = None
    edge: int | None = None


def check_branching(document: Any) -> list[Problem]:
    """Every problem of a branching document, the database's refusal (if any) first."""
    problems: list[Problem] = []
    try:
        validate_branching(document)
    except FormatError as error:
        problems.append(_format_problem(document, error))
    graph = _Graph.of(document)
    if graph is not None:
        problems.extend(graph.problems())
    return problems


def _format_problem(document: Any, error: FormatError) -> Problem:
    """The database's refusal, located at the node (and edge) its path leads into."""
    path = error.path
    node_index = path[1] if len(path) >= 2 and path[0] == "nodes" else None
    if not isinstance(node_index, int):
        return Problem("error", "format", str(error))
    node = document["nodes"][node_index]
    node_id = node.get("id") if isinstance(node, dict) else None
    edge = path[3] if len(path) >= 4 and path[2] == "edges" and isinstance(path[3], int) else None
    return Problem(
        "error",
        "format",
        str(error),
        node_id if isinstance(node_id, str) else None,
        node_index,
        edge,
    )


@dataclass
class _Graph:
    """The nodes and edges that make sense, even in a document the database would refuse."""

    start: str | None
    index: dict[str, int]  # node id -> its first index in "nodes"
    ends: set[str]
    targets: dict[str, list[str]]  # node id -> ids its edges lead to (known nodes only)
    has_default: dict[str, bool]
    has_edges: dict[str, bool]

    @classmethod
    def of(cls, document: Any) -> _Graph | None:
        if not isinstance(document, dict) or not isinstance(document.get("nodes"), list):
            return None
        nodes = [
            n for n in document["nodes"] if isinstance(n, dict) and isinstance(n.get("id"), str)
        ]
        index: dict[str, int] = {}
        for i, node in enumerate(document["nodes"]):
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                index.setdefault(node["id"], i)
        graph = cls(
            start=document.get("start") if document.get("start") in index else None,
            index=index,
            ends=set(),
            targets={},
            has_default={},
            has_edges={},
        )
        for node in nodes:
            node_id = node["id"]
            if node_id in graph.targets:  # a second node with a used id: the first one counts
                continue
            edges = [e for e in _edges(node) if isinstance(e, dict)]
            graph.targets[node_id] = [e["to"] for e in edges if e.get("to") in index]
            graph.has_default[node_id] = any(e.get("default") is True for e in edges)
            graph.has_edges[node_id] = bool(edges)
            if node.get("end") is True:
                graph.ends.add(node_id)
        return graph

    def problems(self) -> list[Problem]:
        problems: list[Problem] = []
        if self.start is not None:
            reached = _reachable([self.start], self.targets)
            for node_id in self.targets:
                if node_id not in reached:
                    problems.append(
                        self._at(
                            "error",
                            "unreachable",
                            node_id,
                            f'node "{node_id}" cannot be reached from the start node '
                            f'"{self.start}"',
                        )
                    )
        if self.ends:
            problems.extend(self._never_ending())
        for node_id in self.targets:
            if (
                node_id not in self.ends
                and self.has_edges[node_id]
                and not self.has_default[node_id]
            ):
                problems.append(
                    self._at(
                        "warning",
                        "no_default",
                        node_id,
                        f'node "{node_id}" has no default edge: when nothing the rep says '
                        "matches, the persona waits silently for another turn",
                    )
                )
        return problems

    def _never_ending(self) -> Iterable[Problem]:
        """Nodes with no way to an end node: the loops they fall into, and the rest."""
        sources: dict[str, list[str]] = {node_id: [] for node_id in self.targets}
        for node_id, targets in self.targets.items():
            for target in targets:
                sources[target].append(node_id)
        finishing = _reachable(self.ends, sources)
        stuck = {node_id for node_id in self.targets if node_id not in finishing}
        trapped: dict[str, list[str]] = {}
        for component in _strong_components({n: t for n, t in self.targets.items() if n in stuck}):
            members = set(component)
            closed = all(t in members for n in component for t in self.targets[n])
            looping = len(component) > 1 or component[0] in self.targets[component[0]]
            if closed and looping:
                for node_id in component:
                    trapped[node_id] = component
        for node_id in self.targets:
            if node_id in trapped:
                loop = ", ".join(f'"{n}"' for n in trapped[node_id])
                yield self._at(
                    "error",
                    "trapped",
                    node_id,
                    f'node "{node_id}" is in a loop with no exit ({loop}): once there, the call '
                    "never reaches an end node",
                )
            elif node_id in stuck:
                yield self._at(
                    "error",
                    "no_end",
                    node_id,
                    f'node "{node_id}" has no path to an end node: the call cannot finish from '
                    "there",
                )

    def _at(self, severity: Severity, rule: Rule, node_id: str, message: str) -> Problem:
        return Problem(severity, rule, message, node_id, self.index[node_id])


def _edges(node: Mapping[str, Any]) -> list[Any]:
    edges = node.get("edges")
    return edges if isinstance(edges, list) else []


def _reachable(roots: Iterable[str], targets: Mapping[str, Sequence[str]]) -> set[str]:
    seen = set(roots)
    queue = deque(seen)
    while queue:
        for target in targets.get(queue.popleft(), ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _strong_components(targets: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (a long chain must not recurse);
    edges to nodes outside `targets` are ignored. Members keep the order of `targets`."""
    order = {node_id: i for i, node_id in enumerate(targets)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in targets:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node_id, next_edge = work.pop()
            if next_edge == 0:
                index[node_id] = low[node_id] = len(index)
                stack.append(node_id)
                on_stack.add(node_id)
            outgoing = [t for t in targets[node_id] if t in targets]
            if next_edge < len(outgoing):
                work.append((node_id, next_edge + 1))
                target = outgoing[next_edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
                continue
            if low[node_id] == index[node_id]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node_id:
                        break
                components.append(sorted(component, key=order.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
    return components


def stored_position(node: Any) -> tuple[float, float] | None:
    """A node's valid "position" as (x, y), or None."""
    if not isinstance(node, dict) or not is_position(node.get("position")):
        return None
    position = node["position"]
    return float(position["x"]), float(position["y"])


def layout(document: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Where every node sits: its stored position, else a layered layout for those without one.

    A node's column is its distance (in edges) from the start node, its row its place in the
    breadth-first order; nodes the start cannot reach share one column after the last. Nodes
    with a stored position stay where the author put them.
    """
    nodes = [
        n
        for n in document.get("nodes") or []
        if isinstance(n, dict) and isinstance(n.get("id"), str)
    ]
    targets: dict[str, list[str]] = {}
    for node in nodes:
        targets.setdefault(node["id"], [e.get("to") for e in _edges(node) if isinstance(e, dict)])
    depth: dict[str, int] = {}
    start = document.get("start")
    if start in targets:
        depth[start] = 0
        queue = deque([start])
        while queue:
            node_id = queue.popleft()
            for target in targets[node_id]:
                if target in targets and target not in depth:
                    depth[target] = depth[node_id] + 1
                    queue.append(target)
    unreached = max(depth.values(), default=-1) + 1
    # Breadth-first order (depth holds it), then the unreached nodes in document order.
    ordered = [*depth, *(n for n in targets if n not in depth)]
    rows: dict[int, int] = {}
    positions: dict[str, tuple[float, float]] = {}
    stored: dict[str, tuple[float, float] | None] = {}
    for node in nodes:
        stored.setdefault(node["id"], stored_position(node))
    for node_id in ordered:
        position = stored.get(node_id)
        if position is None:
            column = depth.get(node_id, unreached)
            row = rows.get(column, 0)
            rows[column] = row + 1
            position = (column * COLUMN_SPACING, row * ROW_SPACING)
        positions[node_id] = position
    return positions


def describe_edge(edge: Any) -> str:
    """An edge's condition in a few words, as the editor labels it: "default", "intent question",
    "keywords save, cost", "phrases how much"; "no condition" for one the format would refuse."""
    if not isinstance(edge, dict):
        return "not an edge"
    if edge.get("default") is True:
        return "default"
    when = edge.get("when")
    if not isinstance(when, dict) or len(when) != 1:
        return "no condition"
    (kind, value), *_ = when.items()
    if kind == "intent":
        return f"intent {value}"
    if kind in ("keywords", "phrases") and isinstance(value, list):
        return (f"{kind} " + ", ".join(str(v) for v in value)) if value else f"{kind} (none)"
    return "no condition"
