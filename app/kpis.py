"""Conversation KPIs of a practice call, computed exactly as `public.compute_kpis` does in SQL.

The desktop shows these right after a call, before the server has scored it; the server's numbers
must then be the same to the last digit. So every time becomes integer milliseconds (parsed from
the JSON number's text, as Postgres parses it) and every ratio is an exact fraction rounded once,
half away from zero (Postgres `numeric` rounding). Definitions and sources: docs/kpis.md.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

KPI_VERSION = 1

# Exactly the keys of private.kpi_names() (migration 0300); tests/app/test_kpi_parity.py checks.
KPI_NAMES: tuple[str, ...] = (
    "talk_ratio",
    "words_per_minute",
    "filler_words_per_minute",
    "filler_word_ratio",
    "longest_monologue_seconds",
    "questions_asked",
    "interruptions",
    "response_latency_seconds",
    "speaker_switches_per_minute",
    "keyword_coverage",
    "rep_talk_seconds",
    "rep_word_count",
    "call_duration_seconds",
)

# "like", "actually", "so" and "anyway" are left out on purpose: they are content words far more
# often than fillers, and a word list cannot tell the two apart (docs/kpis.md).
FILLER_WORDS = frozenset(
    {"uh", "um", "umm", "uhm", "uh-huh", "er", "erm", "ah", "hmm", "mhmm", "mm", "basically"}
)
FILLER_PHRASES: tuple[tuple[str, str], ...] = (("you", "know"), ("i", "mean"))

# A persona turn of at most this many words, all of them acknowledgements, does not end the
# rep's monologue ("yeah", "got it", "I see").
BACKCHANNEL_MAX_WORDS = 3
BACKCHANNEL_WORDS = frozenset(
    {"yes", "yeah", "yep", "ok", "okay", "right", "sure", "mhmm", "uh-huh", "got", "it", "i", "see"}
)

# The same bytes as the SQL: ASCII whitespace only (str.split() would also split on Unicode
# spaces), ASCII punctuation only, A-Z only (str.lower() would also fold "É").
_SEPARATORS = re.compile(r"[ \t\n\r]+")
_QUESTIONS = re.compile(r"\?+")
_PUNCTUATION = '.,!?;:"()[]{}'
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Number = int | float | Decimal
KpiValue = Decimal | int | None


@dataclass(frozen=True)
class IdealRange:
    """A KPI's recommended range where a source publishes one; None for an open end."""

    low: Decimal | None
    high: Decimal | None
    source: str


# docs/kpis.md, "Ideal ranges and where they come from" (tests/app/test_kpis_ranges.py checks the
# two agree). KPIs absent here have no published range: their target is scenario-specific, set by
# the rubric. A rubric's own target takes precedence wherever the rubric scores the KPI.
IDEAL_RANGES: Mapping[str, IdealRange] = {
    "talk_ratio": IdealRange(Decimal("0.40"), Decimal("0.60"), "Gong Labs"),
    "words_per_minute": IdealRange(Decimal(130), Decimal(175), "Read.ai, Gong Labs"),
    "filler_word_ratio": IdealRange(None, Decimal("0.04"), "Read.ai"),
    "filler_words_per_minute": IdealRange(None, Decimal(5), "speech research"),
}


class TranscriptError(ValueError):
    """The transcript does not have the shape KPIs are computed from."""


def tokenize(text: str) -> list[str]:
    """Words of a text as KPIs count them (private.kpi_tokens)."""
    words = (part.strip(_PUNCTUATION).translate(_LOWER) for part in _SEPARATORS.split(text))
    return [word for word in words if word]


def to_decimal(value: Number) -> Decimal:
    """A JSON number as Postgres reads it: floats through their repr, the text json.dumps sends."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"expected a JSON number, got {value!r}")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def to_ms(seconds: Number) -> int:
    """Seconds to integer milliseconds, half away from zero (private.kpi_ms)."""
    return int(round_ratio(Fraction(to_decimal(seconds)) * 1000, 1, 0))


def round_ratio(
    num: Fraction | Decimal | int, den: Fraction | Decimal | int, places: int
) -> Decimal | None:
    """num / den to `places` decimals, half away from zero; None if den is 0 (private.kpi_ratio)."""
    if den == 0:
        return None
    exact = Fraction(num) / Fraction(den)
    scaled = abs(exact) * 10**places
    rounded = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    sign = -1 if exact < 0 else 1
    # Built from text: exact whatever the decimal context, with exactly `places` decimals.
    return Decimal(f"{sign * rounded}e-{places}")


@dataclass(frozen=True)
class Turn:
    speaker: str
    start_ms: int
    end_ms: int
    text: str
    tokens: tuple[str, ...]

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


def turns_of(transcript: Mapping[str, Any]) -> list[Turn]:
    """The turns in array order; raises TranscriptError for what compute_kpis cannot read."""
    raw = transcript.get("turns") if isinstance(transcript, Mapping) else None
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise TranscriptError('transcript needs a "turns" array')
    turns = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, Mapping) or turn.get("speaker") not in ("rep", "persona"):
            raise TranscriptError(f'turns[{i}] needs "speaker": "rep" or "persona"')
        if not isinstance(turn.get("text"), str):
            raise TranscriptError(f"turns[{i}].text must be a string")
        try:
            start_ms, end_ms = to_ms(turn["start"]), to_ms(turn["end"])
        except (KeyError, TypeError) as error:
            raise TranscriptError(f"turns[{i}] needs numeric start and end") from error
        text = turn["text"]
        turns.append(Turn(turn["speaker"], start_ms, end_ms, text, tuple(tokenize(text))))
    return turns


def count_fillers(tokens: Sequence[str]) -> int:
    """Filler words, plus "you know" and "i mean" counted once per occurrence."""
    singles = sum(1 for token in tokens if token in FILLER_WORDS)
    pairs = sum(1 for pair in itertools.pairwise(tokens) if pair in FILLER_PHRASES)
    return singles + pairs


def is_backchannel(turn: Turn) -> bool:
    return len(turn.tokens) <= BACKCHANNEL_MAX_WORDS and all(
        token in BACKCHANNEL_WORDS for token in turn.tokens
    )


def longest_monologue_ms(turns: Sequence[Turn]) -> int | None:
    """Longest stretch of rep turns not broken by a persona turn that is more than a backchannel."""
    longest: int | None = None
    first_start: int | None = None
    last_end = 0
    for turn in turns:
        if turn.speaker == "rep":
            if first_start is None:
                first_start, last_end = turn.start_ms, turn.end_ms
            else:
                last_end = max(last_end, turn.end_ms)
            stretch = last_end - first_start
            longest = stretch if longest is None else max(longest, stretch)
        elif not is_backchannel(turn):
            first_start = None
    return longest


def keyword_hits(turns: Iterable[Turn], groups: Sequence[Sequence[str]]) -> int:
    """Groups of which the rep said some phrase as consecutive words of one turn."""
    # Words never contain a space, so a padded substring test is a consecutive-words test.
    rep_turns = [f" {' '.join(turn.tokens)} " for turn in turns if turn.speaker == "rep"]

    def said(phrase: str) -> bool:
        words = tokenize(phrase)
        needle = f" {' '.join(words)} "
        return bool(words) and any(needle in turn for turn in rep_turns)

    return sum(1 for group in groups if any(said(phrase) for phrase in group))


def keyword_groups(rubric: Mapping[str, Any] | None) -> list[Sequence[Sequence[str]]]:
    """The keyword groups of each keywords criterion of a rubric, in rubric order."""
    if rubric is None:
        return []
    return [c["keywords"] for c in rubric.get("criteria", ()) if c.get("type") == "keywords"]


def compute_kpis(
    transcript: Mapping[str, Any], rubric: Mapping[str, Any] | None = None
) -> dict[str, KpiValue]:
    """The KPIs of a call: the same keys and numbers as public.compute_kpis(transcript, rubric)."""
    turns = turns_of(transcript)
    rep = [t for t in turns if t.speaker == "rep"]
    rep_ms = sum(t.duration_ms for t in rep)
    persona_ms = sum(t.duration_ms for t in turns if t.speaker == "persona")
    call_ms = max(t.end_ms for t in turns) - min(t.start_ms for t in turns) if turns else None
    rep_words = sum(len(t.tokens) for t in rep)
    fillers = sum(count_fillers(t.tokens) for t in rep)

    pairs = list(itertools.pairwise(turns))
    responses = [(p, r) for p, r in pairs if p.speaker == "persona" and r.speaker == "rep"]
    latency_ms = sum(max(r.start_ms - p.end_ms, 0) for p, r in responses)
    switches = sum(1 for a, b in pairs if a.speaker != b.speaker)
    longest = longest_monologue_ms(turns)

    groups = keyword_groups(rubric)
    hits = sum(keyword_hits(turns, g) for g in groups)
    total_groups = sum(len(g) for g in groups)

    return {
        "version": KPI_VERSION,
        "call_duration_seconds": None if call_ms is None else round_ratio(call_ms, 1000, 3),
        "rep_talk_seconds": round_ratio(rep_ms, 1000, 3),
        "talk_ratio": round_ratio(rep_ms, rep_ms + persona_ms, 4),
        "rep_word_count": rep_words,
        "words_per_minute": round_ratio(rep_words * 60000, rep_ms, 1),
        "filler_words_per_minute": round_ratio(fillers * 60000, rep_ms, 2),
        "filler_word_ratio": round_ratio(fillers, rep_words, 4),
        "longest_monologue_seconds": None if longest is None else round_ratio(longest, 1000, 3),
        "questions_asked": sum(len(_QUESTIONS.findall(t.text)) for t in rep),
        "interruptions": sum(1 for p, r in responses if r.start_ms < p.end_ms),
        "response_latency_seconds": round_ratio(latency_ms, len(responses) * 1000, 3),
        "speaker_switches_per_minute": (
            None if call_ms is None else round_ratio(switches * 60000, call_ms, 2)
        ),
        "keyword_coverage": round_ratio(hits, total_groups, 4),
    }
