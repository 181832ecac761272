"""A scenario's key terms: the product names, competitor names and jargon a rep will say in the
call, which the speech model is told to expect (app.scenarios.Scenario.vocabulary).

Checked here exactly as the database checks them (`private.assert_key_terms`, migration
20261205000800_scenario_key_terms.sql), with the same words, so the editor shows the problem
before a save is refused: at most MAX_TERMS terms, each 1 to MAX_TERM_LENGTH characters after
trimming, none twice ignoring case. The editor takes them as one comma-separated line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.formats import FormatError

MAX_TERMS = 50
MAX_TERM_LENGTH = 60
# What SQL's btrim(term, E' \t\r\n\f\v') removes, so both sides measure the same term.
_BLANKS = " \t\r\n\f\v"
WHAT = "key_terms"


def validate_key_terms(terms: Any) -> None:
    """FormatError (the database's message) if the database would refuse `terms`."""
    if not isinstance(terms, list | tuple):
        raise FormatError(WHAT, "must be a list of terms")
    if len(terms) > MAX_TERMS:
        raise FormatError(WHAT, f"at most {MAX_TERMS} terms (this list has {len(terms)})")
    seen: set[str] = set()
    for number, term in enumerate(terms, start=1):
        if term is not None and not isinstance(term, str):
            raise FormatError(WHAT, f"term {number} is not text", number - 1)
        trimmed = (term or "").strip(_BLANKS)
        if not trimmed:
            raise FormatError(WHAT, f"term {number} is empty", number - 1)
        if len(trimmed) > MAX_TERM_LENGTH:
            raise FormatError(
                WHAT,
                f'term {number} ("{trimmed[:20]}…") is longer than {MAX_TERM_LENGTH} characters',
                number - 1,
            )
        if trimmed.lower() in seen:
            raise FormatError(WHAT, f'"{trimmed}" is listed twice', number - 1)
        seen.add(trimmed.lower())


def parse_key_terms(text: str) -> tuple[str, ...]:
    """The terms of the editor's comma-separated line, trimmed; empty pieces (a trailing comma,
    two commas in a row) are no terms."""
    pieces = (piece.strip(_BLANKS) for piece in text.split(","))
    return tuple(piece for piece in pieces if piece)


def key_terms_text(terms: Iterable[str]) -> str:
    """The line the editor shows for `terms`."""
    return ", ".join(terms)
