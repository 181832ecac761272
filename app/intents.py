"""The rule-based intents a branching edge can test: agree, decline, question, objection.

No model on purpose: a scenario author must be able to predict which way the persona goes, and a
test must be able to pin it down. The rules are the table in docs/scenario-format.md ("How the
dialog moves"); words are split exactly as the KPIs split them (app.kpis.tokenize).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.formats import INTENTS
from app.kpis import tokenize

Words = tuple[str, ...]

# Speech-to-text and keyboards both produce the typographic apostrophe; "don’t" is "don't".
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def words_of(text: str) -> Words:
    """The words of a text as conditions compare them: KPI tokens, any apostrophe made ASCII."""
    return tuple(tokenize(text.translate(_APOSTROPHES)))


def contains_phrase(words: Sequence[str], phrase: Sequence[str]) -> bool:
    """True if `phrase` (at least one word) occurs as consecutive words of `words`."""
    size = len(phrase)
    if size == 0:
        return False
    return any(tuple(words[i : i + size]) == tuple(phrase) for i in range(len(words) - size + 1))


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _phrases(*texts: str) -> tuple[Words, ...]:
    return tuple(words_of(text) for text in texts)


@dataclass(frozen=True)
class IntentRule:
    """One intent's test: any of its triggers present in the turn is enough."""

    openers: frozenset[str] = frozenset()  # the turn's first word is one of these
    words: frozenset[str] = frozenset()  # any word of the turn is one of these
    phrases: tuple[Words, ...] = ()  # the turn contains one of these as consecutive words
    question_mark: bool = False  # the turn's text contains "?"

    def matches(self, text: str, words: Words) -> bool:
        return (
            (self.question_mark and "?" in text)
            or (bool(words) and words[0] in self.openers)
            or any(word in self.words for word in words)
            or any(contains_phrase(words, phrase) for phrase in self.phrases)
        )


WH_WORDS = _set("what why how when where who whom whose which")
# Contracted wh-words are still wh-words: "What's the catch" asks even when no "?" was heard.
WH_CONTRACTIONS = frozenset(f"{wh}'s" for wh in ("what", "why", "how", "when", "where", "who"))
QUESTION_AUXILIARIES = _set(
    "is are am was were do does did can could will would shall should may might have has had"
)

INTENT_RULES: dict[str, IntentRule] = {
    "question": IntentRule(
        openers=WH_WORDS | WH_CONTRACTIONS | QUESTION_AUXILIARIES, question_mark=True
    ),
    "agree": IntentRule(
        openers=_set(
            "yes yeah yep yup sure ok okay absolutely definitely certainly agreed fine great "
            "perfect"
        ),
        phrases=_phrases(
            "sounds good",
            "sounds great",
            "that works",
            "works for me",
            "let's do it",
            "let's do that",
            "i agree",
            "of course",
            "go ahead",
        ),
    ),
    "decline": IntentRule(
        openers=_set("no nope nah"),
        phrases=_phrases(
            "not interested",
            "no thanks",
            "no thank you",
            "not now",
            "not right now",
            "maybe later",
            "not a fit",
            "i'll pass",
            "we'll pass",
            "don't need",
            "do not need",
        ),
    ),
    "objection": IntentRule(
        words=_set("but however although though"),
        phrases=_phrases(
            "too expensive",
            "too much",
            "already have",
            "already use",
            "no budget",
            "not in the budget",
            "i disagree",
            "not true",
        ),
    ),
}


def has_intent(intent: str, text: str, words: Words | None = None) -> bool:
    """True if the turn `text` shows `intent`; `words` may be passed when already split."""
    rule = INTENT_RULES.get(intent)
    if rule is None:
        raise ValueError(f"unknown intent {intent!r}; intents: {', '.join(INTENTS)}")
    return rule.matches(text, words_of(text) if words is None else words)


def detect_intents(text: str, intents: Iterable[str] = INTENTS) -> frozenset[str]:
    """Every intent the turn shows (a turn can show several: "But what does it cost?")."""
    words = words_of(text)
    return frozenset(intent for intent in intents if has_intent(intent, text, words))
