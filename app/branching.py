"""The branching dialog engine: which persona line comes next, given what the rep just said.

A scenario's branching document (docs/scenario-format.md, resources/schemas/branching.schema.json)
is a graph of persona lines. `Dialog` walks it one rep turn at a time: the current node's edges are
tried in order, the first whose condition matches the turn wins, else the default edge; with
neither, the persona waits on the same node. Pure logic: no audio, no clock, no Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.formats import validate_branching
from app.intents import Words, contains_phrase, has_intent, words_of

# A dialog may loop (a persona can circle back), so a scenario without a reachable end node would
# run forever on a rep who keeps saying the same thing. 50 turns is far beyond any real call.
DEFAULT_MAX_TURNS = 50

ConditionKind = Literal["keywords", "phrases", "intent"]


class DialogError(Exception):
    """The dialog cannot go on; the message says why in words an author can act on."""


class DialogFinished(DialogError):
    """A rep turn was given after the call had reached an end node."""


class TurnLimitReached(DialogError):
    """The rep has taken `max_turns` turns without the dialog reaching an end node."""


@dataclass(frozen=True)
class Condition:
    """An edge's `when`: keywords or phrases (each as its words) or one intent."""

    kind: ConditionKind
    values: tuple[Words, ...] = ()  # keywords / phrases, split into words
    intent: str | None = None

    @classmethod
    def parse(cls, when: Mapping[str, Any]) -> Condition:
        if "intent" in when:
            return cls("intent", intent=when["intent"])
        kind: ConditionKind = "keywords" if "keywords" in when else "phrases"
        return cls(kind, values=tuple(words_of(text) for text in when[kind]))

    def match(self, text: str, words: Words) -> str | None:
        """What made the turn match (a keyword, a phrase, the intent), or None."""
        if self.kind == "intent":
            assert self.intent is not None
            return self.intent if has_intent(self.intent, text, words) else None
        for value in self.values:
            # A keyword is one word: one that splits into several (or none) can never match.
            hit = (
                len(value) == 1 and value[0] in words
                if self.kind == "keywords"
                else contains_phrase(words, value)
            )
            if hit:
                return " ".join(value)
        return None

    def describe(self) -> str:
        if self.kind == "intent":
            return f"intent {self.intent}"
        return f"{self.kind} " + ", ".join(" ".join(value) for value in self.values)


@dataclass(frozen=True)
class Edge:
    to: str
    when: Condition | None  # None: the node's default edge
    index: int  # position in the node's "edges" array

    @property
    def is_default(self) -> bool:
        return self.when is None


@dataclass(frozen=True)
class Node:
    id: str
    persona_line: str
    end: bool
    edges: tuple[Edge, ...]

    @property
    def default_edge(self) -> Edge | None:
        return next((edge for edge in self.edges if edge.is_default), None)


@dataclass(frozen=True)
class Choice:
    """The edge a turn takes and why: `matched` is the keyword, phrase or intent that matched."""

    edge: Edge
    matched: str | None  # None for the default edge

    def describe(self) -> str:
        if self.edge.when is None:
            return "default"
        return f"{self.edge.when.kind.rstrip('s')} {self.matched!r}"


@dataclass(frozen=True)
class Step:
    """One rep turn of the dialog: where it was, what the rep said, where it went."""

    from_node: str
    rep_text: str
    choice: Choice | None  # None: nothing matched and there is no default edge
    to_node: str


def parse_nodes(branching: Mapping[str, Any]) -> dict[str, Node]:
    """The nodes of a branching document by id, validated as the database validates them.

    Raises app.formats.FormatError for anything the database would refuse, including an edge that
    points at a missing node, so the engine never walks a graph with a hole in it.
    """
    validate_branching(branching)
    nodes: dict[str, Node] = {}
    for raw in branching["nodes"]:
        edges = tuple(
            Edge(
                to=edge["to"],
                when=None if edge.get("default") is True else Condition.parse(edge["when"]),
                index=index,
            )
            for index, edge in enumerate(raw.get("edges") or ())
        )
        nodes[raw["id"]] = Node(raw["id"], raw["persona_line"], raw.get("end") is True, edges)
    return nodes


def choose(node: Node, rep_text: str) -> Choice | None:
    """The edge a rep turn takes from `node`: the first matching one in order, else the default."""
    words = words_of(rep_text)
    for edge in node.edges:
        if edge.when is not None:
            matched = edge.when.match(rep_text, words)
            if matched is not None:
                return Choice(edge, matched)
    default = node.default_edge
    return None if default is None else Choice(default, None)


class Dialog:
    """A walk through one branching dialog: `current` is the node whose line was said last."""

    def __init__(self, branching: Mapping[str, Any], *, max_turns: int = DEFAULT_MAX_TURNS) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        self.nodes = parse_nodes(branching)
        self.max_turns = max_turns
        self.current: Node = self.nodes[branching["start"]]
        self.steps: list[Step] = []

    @property
    def persona_line(self) -> str:
        return self.current.persona_line

    @property
    def finished(self) -> bool:
        """True once an end node's line has been reached: no rep turn is expected any more."""
        return self.current.end

    @property
    def path(self) -> list[str]:
        """Ids of the nodes visited, in order, the start node first (a waiting node once)."""
        visited = [self.steps[0].from_node] if self.steps else [self.current.id]
        visited.extend(step.to_node for step in self.steps if step.to_node != step.from_node)
        return visited

    @property
    def turns(self) -> int:
        return len(self.steps)

    def advance(self, rep_text: str) -> Node:
        """Take the rep's whole turn; return the node whose line the persona says next.

        If no edge matches and the node has no default edge, the dialog stays on the node (the
        returned node is `current`, unchanged) and waits for the rep's next turn.
        """
        if self.finished:
            raise DialogFinished(
                f'the call already ended at node "{self.current.id}"; no more rep turns are taken'
            )
        if self.turns >= self.max_turns:
            raise TurnLimitReached(
                f"the rep has taken {self.turns} turns without the dialog reaching an end node "
                f'(now at node "{self.current.id}"); the limit is {self.max_turns}'
            )
        choice = choose(self.current, rep_text)
        target = self.current if choice is None else self.nodes[choice.edge.to]
        self.steps.append(Step(self.current.id, rep_text, choice, target.id))
        self.current = target
        return target
