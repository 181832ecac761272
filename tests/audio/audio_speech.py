"""Test speech: espeak-ng reads known sentences aloud, sox reshapes the audio, WER scores text."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from app.kpis import tokenize


def espeak(text: str, path: Path, *, speed: int = 150) -> Path:
    """`text` spoken by espeak-ng into a WAV (22.05 kHz mono, espeak's own format)."""
    subprocess.run(["espeak-ng", "-w", str(path), "-s", str(speed), text], check=True)
    return path


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *(str(arg) for arg in args)], check=True, capture_output=True)


def words(text: str) -> list[str]:
    """Words compared the way the KPIs and branching compare them (app.kpis.tokenize)."""
    return tokenize(text)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance / reference words."""
    ref, hyp = words(reference), words(hypothesis)
    return _edit_distance(ref, hyp) / max(len(ref), 1)


def _edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, word_a in enumerate(a, 1):
        current = [i]
        for j, word_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word_a != word_b))
            )
        previous = current
    return previous[-1]
