"""Keeping disfluencies: Whisper drops "um"/"uh" unless it is shown that the transcript keeps them.

Whisper was trained on cleaned-up transcripts, so by default it writes "I think our product could
help" for "I, uh, think, um, our product could help", and a filler KPI on its output is always zero.
An initial prompt that itself contains fillers makes it transcribe them (KPI-ANCHORS; measured in
tests/audio/test_fillers.py). The prompt stays short: long prompts make Whisper drop text or loop.

Whisper spells fillers many ways ("Umm", "Mm-hmm", "Uhh"); `normalize_word` maps each to one
spelling from the filler list the KPIs count (app.kpis.FILLER_WORDS), so "Umm," counts like "um".
"""

from __future__ import annotations

import re

FILLER_PROMPT = "Um, uh, let me think, like, hmm... Okay, uh, here's what I'm, like, thinking."

# Checked in order: "uh-huh" before "uh", "erm" before "er". Each canonical spelling is in
# app.kpis.FILLER_WORDS (tests/audio/test_fillers.py checks).
_SPELLINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), canonical)
    for pattern, canonical in (
        (r"u+h+[- ]?hu+h+", "uh-huh"),
        (r"m+-?h+m+", "mhmm"),
        (r"u+h*m+", "um"),
        (r"u+h+", "uh"),
        (r"e+r+m+", "erm"),
        (r"e+r+", "er"),
        (r"a+h+", "ah"),
        (r"h+m+", "hmm"),
        (r"m{2,}", "mm"),
    )
)
CANONICAL_FILLERS = frozenset(canonical for _, canonical in _SPELLINGS)

# A word as Whisper writes it: leading space, optional punctuation around the letters.
_WORD_PARTS = re.compile(r"(?P<lead>\W*)(?P<core>.*?)(?P<trail>[^\w-]*)", re.DOTALL)


def canonical_filler(core: str) -> str | None:
    """The one spelling of a filler ("Ummm" -> "um"), or None if `core` is not a filler."""
    for pattern, canonical in _SPELLINGS:
        if pattern.fullmatch(core):
            return canonical
    return None


def normalize_word(word: str) -> str:
    """`word` with a filler respelled canonically, keeping its punctuation and a capital initial.

    " Umm," -> " Um,"; "uhh..." -> "uh..."; every other word is returned unchanged.
    """
    parts = _WORD_PARTS.fullmatch(word)
    canonical = canonical_filler(parts["core"]) if parts else None
    if parts is None or canonical is None:
        return word
    if parts["core"][:1].isupper():
        canonical = canonical[:1].upper() + canonical[1:]
    return f"{parts['lead']}{canonical}{parts['trail']}"
