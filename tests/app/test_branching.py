"""The dialog engine and the intent rules do what docs/scenario-format.md says, case by case."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from app.branching import Dialog, DialogFinished, TurnLimitReached, choose, parse_nodes
from app.formats import INTENTS, FormatError
from app.intents import INTENT_RULES, contains_phrase, detect_intents, has_intent, words_of
from app.scenarios import find_scenario, load_scenarios

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md"


def node(id_: str, *edges: dict[str, Any], end: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"id": id_, "persona_line": f"line of {id_}"}
    if end:
        result["end"] = True
    else:
        result["edges"] = list(edges)
    return result


def when(to: str, **condition: Any) -> dict[str, Any]:
    return {"to": to, "when": condition}


def default(to: str) -> dict[str, Any]:
    return {"to": to, "default": True}


def graph(*nodes: dict[str, Any], start: str = "open") -> dict[str, Any]:
    return {"version": 1, "start": start, "nodes": list(nodes)}


def step(branching: dict[str, Any], text: str) -> str:
    """The node one rep turn leads to from the start node."""
    return Dialog(branching).advance(text).id


# --- words ---------------------------------------------------------------------------------------


def test_words_are_split_as_the_kpis_split_them_with_any_apostrophe():
    assert words_of('So, how MUCH is it? "Cost?" (don’t)') == (
        "so",
        "how",
        "much",
        "is",
        "it",
        "cost",
        "don't",
    )
    assert words_of(" ...  ? ") == ()


def test_phrases_are_consecutive_words():
    words = words_of("so how much is it")
    assert contains_phrase(words, ("how", "much"))
    assert not contains_phrase(words, ("how", "is"))
    assert not contains_phrase(words, ())
    assert not contains_phrase(("how",), ("how", "much"))


# --- conditions ----------------------------------------------------------------------------------

KEYWORDS = graph(
    node("open", when("hit", keywords=["Cost", "don’t", "two words"]), default("miss")),
    node("hit", end=True),
    node("miss", end=True),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What does it COST?", "hit"),  # case and punctuation do not matter
        ("the cost.", "hit"),
        ("(cost)", "hit"),
        ("costs are high", "miss"),  # whole words only
        ("low-cost vendor", "miss"),
        ("I don't know", "hit"),  # the typographic apostrophe in the keyword counts as '
        ("I don’t know", "hit"),
        ("we have two words here", "miss"),  # a keyword with a space never matches
        ("", "miss"),
    ],
)
def test_keywords_match_whole_words_ignoring_case_and_punctuation(text, expected):
    assert step(KEYWORDS, text) == expected


PHRASES = graph(
    node("open", when("hit", phrases=["how much", "What does it cost?"]), default("miss")),
    node("hit", end=True),
    node("miss", end=True),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So, how MUCH is it?", "hit"),
        ("how, much", "hit"),  # punctuation between the words is stripped
        ("and what does it cost", "hit"),
        ("how very much", "miss"),
        ("much how", "miss"),
        ("somehow much", "miss"),
    ],
)
def test_phrases_match_consecutive_words(text, expected):
    assert step(PHRASES, text) == expected


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("Can I ask you something", {"question"}),
        ("What's your biggest problem", {"question"}),
        ("you said it is slow?", {"question"}),
        ("Which vendor do you use", {"question"}),
        ("I will call you", set()),
        ("Yes, that is right.", {"agree"}),
        ("Okay", {"agree"}),
        ("That sounds good to me", {"agree"}),
        ("I think we should go ahead", {"agree"}),
        ("say yes to the plan", set()),  # "yes" opens an agreement, it does not hide inside one
        ("No, thank you", {"decline"}),
        ("We're not interested right now", {"decline"}),
        ("I'll pass", {"decline"}),
        ("we don’t need that", {"decline"}),
        ("But the price is too expensive", {"objection"}),
        ("We already have a provider", {"objection"}),
        ("However you look at it", {"objection"}),
        ("But what does it cost?", {"question", "objection"}),
        ("Yes, but is it fast?", {"agree", "objection", "question"}),
        ("Send me the slides", set()),
        ("", set()),
    ],
)
def test_intents(text, intents):
    assert detect_intents(text) == intents
    for intent in INTENTS:
        assert has_intent(intent, text) is (intent in intents)


def test_an_unknown_intent_is_refused():
    with pytest.raises(ValueError, match="unknown intent 'pricing'; intents: agree, decline"):
        has_intent("pricing", "how much is it")


def test_there_is_one_rule_for_each_intent_the_database_accepts():
    assert set(INTENT_RULES) == set(INTENTS)


def _documented_intents() -> dict[str, str]:
    after_header = DOCS.read_text(encoding="utf-8").split("| Intent | The turn matches when |")[1]
    table = after_header.split("\n\n")[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", table, re.MULTILINE)
    return dict(rows)


def test_the_rules_are_the_documented_word_lists():
    """Every quoted item of the docs' intent table is in the rule, and nothing else is."""
    documented = _documented_intents()
    assert set(documented) == set(INTENTS)
    for intent, rule in INTENT_RULES.items():
        items = [item for item in re.findall(r"`([^`]+)`", documented[intent]) if item != "first"]
        phrases = {" ".join(phrase) for phrase in rule.phrases}
        singles = rule.openers | rule.words
        listed: set[str] = set()
        for item in items:
            if item == "?":
                assert rule.question_mark, intent
            elif item in phrases:
                listed.add(item)
            else:  # a space-separated list of single words
                assert set(item.split()) <= singles, (intent, item)
                listed.update(item.split())
        assert listed == phrases | singles, intent


# --- order, default, waiting, end ----------------------------------------------------------------

ORDERED = graph(
    node(
        "open",
        default("fallback"),  # first in the array, but only ever taken when nothing matches
        when("by_keyword", keywords=["price"]),
        when("by_intent", intent="question"),
        when("by_phrase", phrases=["the price"]),
    ),
    node("fallback", end=True),
    node("by_keyword", end=True),
    node("by_intent", end=True),
    node("by_phrase", end=True),
)


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("what is the price?", "by_keyword", "keyword 'price'"),  # all three match: first wins
        ("what is it?", "by_intent", "intent 'question'"),
        ("hello there", "fallback", "default"),
    ],
)
def test_first_matching_edge_in_array_order_wins_else_the_default(text, expected, why):
    dialog = Dialog(ORDERED)
    assert dialog.advance(text).id == expected
    assert dialog.steps[0].choice is not None
    assert dialog.steps[0].choice.describe() == why


def test_the_choice_says_what_matched():
    nodes = parse_nodes(ORDERED)
    choice = choose(nodes["open"], "So, THE price?")
    assert choice is not None
    assert (choice.edge.to, choice.edge.index, choice.matched) == ("by_keyword", 1, "price")
    fallback = choose(nodes["open"], "hm")
    assert fallback is not None
    assert (fallback.edge.to, fallback.edge.is_default, fallback.matched) == (
        "fallback",
        True,
        None,
    )


WAITING = graph(
    node("open", when("close", keywords=["demo"])),
    node("close", end=True),
)


def test_without_a_default_the_dialog_waits_on_the_node():
    dialog = Dialog(WAITING)
    assert dialog.advance("hello") is dialog.current
    assert (dialog.current.id, dialog.finished, dialog.turns) == ("open", False, 1)
    assert dialog.steps[0].choice is None
    assert dialog.advance("let's book a demo").id == "close"
    assert dialog.path == ["open", "close"]
    assert dialog.finished


def test_an_end_node_finishes_the_call_and_takes_no_more_turns():
    dialog = Dialog(KEYWORDS)
    assert (dialog.persona_line, dialog.finished, dialog.path) == ("line of open", False, ["open"])
    dialog.advance("the cost")
    assert dialog.finished
    assert dialog.persona_line == "line of hit"
    with pytest.raises(DialogFinished, match='already ended at node "hit"'):
        dialog.advance("one more thing")


def test_a_start_node_that_is_an_end_node_is_finished_at_once():
    dialog = Dialog(graph(node("open", end=True)))
    assert dialog.finished
    assert dialog.path == ["open"]


LOOP = graph(
    node("open", when("close", intent="agree"), default("again")),
    node("again", default("open")),
    node("close", end=True),
)


def test_cycles_are_followed_and_a_self_loop_repeats_the_line():
    dialog = Dialog(LOOP)
    assert [dialog.advance(text).id for text in ("hm", "hm", "hm", "sure")] == [
        "again",
        "open",
        "again",
        "open",
    ]
    assert dialog.advance("ok then").id == "close"
    assert dialog.path == ["open", "again", "open", "again", "open", "close"]

    repeat = Dialog(
        graph(node("open", default("open"), when("x", keywords=["x"])), node("x", end=True))
    )
    assert repeat.advance("hm").id == "open"
    assert repeat.steps[0].choice is not None  # a move, not a wait: the line is said again


def test_the_turn_limit_stops_a_dialog_that_never_ends():
    dialog = Dialog(LOOP, max_turns=3)
    for _ in range(3):
        dialog.advance("hm")
    with pytest.raises(
        TurnLimitReached, match=r'3 turns .* \(now at node "again"\); the limit is 3'
    ):
        dialog.advance("hm")
    assert dialog.turns == 3


def test_max_turns_must_be_positive():
    with pytest.raises(ValueError, match="max_turns must be at least 1"):
        Dialog(LOOP, max_turns=0)


# --- bad documents -------------------------------------------------------------------------------


def test_an_edge_to_a_missing_node_is_refused_before_the_walk():
    broken = copy.deepcopy(KEYWORDS)
    broken["nodes"][0]["edges"][0]["to"] = "clsoe"
    with pytest.raises(FormatError) as error:
        Dialog(broken)
    assert str(error.value) == (
        'branching is invalid: node "open" edges[0] points at unknown node "clsoe"'
    )
    assert error.value.pointer == "/nodes/0/edges/0/to"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"start": "open", "nodes": []}, '"nodes" must be a non-empty array'),
        (graph(node("a", end=True)), '"start" points at unknown node "open"'),
        (
            graph(node("open", when("x", intent="pricing")), node("x", end=True)),
            'node "open" edges[0].when.intent must be agree, decline, question or objection',
        ),
    ],
)
def test_documents_the_database_refuses_are_refused(document, message):
    with pytest.raises(FormatError, match=re.escape(message)):
        Dialog(document)


def test_the_engine_does_not_change_the_document():
    document = copy.deepcopy(LOOP)
    dialog = Dialog(document)
    dialog.advance("sure")
    assert document == LOOP


# --- the demo scenarios --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "answers", "path"),
    [
        (
            "cold-call",
            [
                "Hi Dana, my name is Sam, calling from Coachdesk.",
                "We make onboarding faster.",
                "Can we put a demo in the calendar?",
            ],
            ["open", "why", "interest", "close"],
        ),
        ("cold-call", ["Hello.", "Because we are great."], ["open", "why", "brushoff"]),
        (
            "cold-call",
            ["Hi!", "Why not?", "I will email you."],
            ["open", "why", "interest", "brushoff"],
        ),
        (
            "discovery",
            ["What does month-end look like?", "So how much overtime is that?"],
            ["open", "pain", "price"],
        ),
        (
            "discovery",
            ["Where does the time go?", "Which teams are affected?", "We can cut that."],
            ["open", "pain", "quantify", "close"],
        ),
        ("discovery", ["I want to show you our product."], ["open", "vague"]),
        (
            "objection",
            ["What would you change about them?", "How slow is their support?"],
            ["open", "probe", "close"],
        ),
        ("objection", ["But we are cheaper."], ["open", "annoyed"]),
    ],
)
def test_demo_scenarios_follow_the_expected_branch(scenario, answers, path):
    dialog = Dialog(find_scenario(load_scenarios(), scenario).branching)
    for answer in answers:
        dialog.advance(answer)
    assert dialog.path == path
    assert dialog.finished
