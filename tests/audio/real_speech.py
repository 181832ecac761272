"""Real human speech for tests and benchmarks: short public-domain clips with their references.

tests/data/speech/SOURCES.md says where each clip comes from and under which licence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audio.decode import SAMPLE_RATE, load_audio

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"

# What each speaker says, word for word (the LibriVox reader repeats "a" in 0920).
REFERENCES = {
    "jfk": (
        "And so, my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country."
    ),
    "austen-0870": (
        "And Mister John Dashwood had then leisure to consider how much there might be "
        "prudently in his power to do for them."
    ),
    "austen-0880": "He was not an ill disposed young man.",
    "austen-0920": (
        "Had he married a more a amiable woman, he might have been made still more "
        "respectable than he was."
    ),
    "austen-0930": "He might even have been made amiable himself.",
}


def clip_path(name: str) -> Path:
    return SPEECH / f"{name}.flac"


def clip(name: str) -> np.ndarray:
    """The clip as float32 mono 16 kHz samples."""
    return load_audio(clip_path(name))


def with_noise(
    samples: np.ndarray, snr_db: float, *, tail: float = 0.0, seed: int = 1
) -> np.ndarray:
    """`samples` then `tail` seconds of quiet, all under white noise `snr_db` below the speech."""
    padded = np.concatenate([samples, np.zeros(round(tail * SAMPLE_RATE), np.float32)])
    noise = np.random.default_rng(seed).normal(0, 1, len(padded)).astype(np.float32)
    noise *= np.sqrt(np.mean(samples**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (padded + noise).astype(np.float32)
