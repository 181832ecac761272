"""Builds a call's transcript document from persona lines and the rep's transcribed turns.

The result is exactly what `compute_kpis` reads and `validate_transcript` accepts
(docs/scenario-format.md, "Transcript"): turns in time order on one timeline that starts at the
call's start, each rep turn placed at the offset its recording started at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.formats import validate_transcript
from app.kpis import tokenize

if TYPE_CHECKING:
    from audio.transcribe import Utterance

TRANSCRIPT_VERSION = 1
# The demo cold call's opening (scenario "Cold call"), for demos, benchmarks and tests.
SAMPLE_TRANSCRIPT = Path(__file__).resolve().parents[1] / "resources" / "sample" / "transcript.json"
# A text-to-speech voice at its default rate says about this many words a minute (espeak-ng and
# the platform voices QTextToSpeech uses are all near it); used when the real length is unknown.
PERSONA_WORDS_PER_MINUTE = 160
# Times are kept to the millisecond, the resolution the KPIs count in.
_DECIMALS = 3


def seconds(value: float) -> float:
    """A time rounded to the millisecond, never negative (a float's -0.0 included)."""
    return max(round(float(value), _DECIMALS), 0.0) + 0.0


def estimate_speech_seconds(text: str, words_per_minute: float = PERSONA_WORDS_PER_MINUTE) -> float:
    """How long a voice takes to say `text`, from its word count (at least one word's time)."""
    if words_per_minute <= 0:
        raise ValueError(f"words_per_minute must be positive, got {words_per_minute}")
    return seconds(max(len(tokenize(text)), 1) * 60 / words_per_minute)


def persona_turn(text: str, start: float, end: float | None = None) -> dict[str, Any]:
    """A persona turn; without `end`, it lasts as long as a voice takes to say the text."""
    start = seconds(start)
    end = start + estimate_speech_seconds(text) if end is None else end
    return {"speaker": "persona", "start": start, "end": seconds(max(end, start)), "text": text}


def rep_turn(utterance: Utterance, offset: float) -> dict[str, Any] | None:
    """The rep's turn from a transcribed recording that started `offset` seconds into the call.

    The turn spans the words said (first word's start to last word's end), so silence before the
    first word counts as the rep's response latency, not as talking. A recording in which nothing
    was said is no turn at all: None.
    """
    if not utterance.words:
        return None
    words = [
        {
            "word": word.text,
            "start": seconds(offset + word.start),
            "end": seconds(offset + max(word.end, word.start)),
            "probability": round(word.probability, 4),
        }
        for word in utterance.words
    ]
    return {
        "speaker": "rep",
        "start": words[0]["start"],
        "end": max(word["end"] for word in words),
        "text": utterance.text,
        "words": words,
    }


def has_rep_speech(transcript: Mapping[str, Any]) -> bool:
    """Whether the rep said anything in the call: a rep turn with words in it.

    A call without is no attempt (nothing to score): it stays on this computer as incomplete, and
    the server refuses to score one too (private.has_rep_speech, the same rule).
    """
    turns = transcript.get("turns")
    return isinstance(turns, list) and any(
        isinstance(turn, Mapping)
        and turn.get("speaker") == "rep"
        and str(turn.get("text") or "").strip() != ""
        for turn in turns
    )


def build_transcript(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The transcript document of these turns, sorted by start and validated.

    Raises app.formats.FormatError if the database would refuse it.
    """
    # sorted() is stable: turns that start together keep the order they were said in.
    document = {
        "version": TRANSCRIPT_VERSION,
        "turns": sorted(turns, key=lambda turn: turn["start"]),
    }
    validate_transcript(document)
    return document


def load_sample_transcript(path: Path = SAMPLE_TRANSCRIPT) -> dict[str, Any]:
    """The bundled sample transcript, checked like any other transcript."""
    transcript: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    validate_transcript(transcript)
    return transcript
