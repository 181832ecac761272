"""The app's decoding settings against the ones it had before, on real human speech.

Before: faster-whisper's temperature fallback (0.0 … 1.0, a doubtful segment re-decoded by
random sampling), no conditioning on earlier text, every decoded word kept. Now
(audio/transcribe.py): temperature 0 only, each window conditioned on the text before it, and
invented segments over silence and repetition loops dropped. A third row, "fallback", is the old
decoding with today's guard, to tell which change does what. Each decodes the public-domain
clips of tests/data/speech through the app's Transcriber, with the filler prompt: clean, 8 kHz,
10 dB and 5 dB noise, and 5 dB with a second of line noise and two of silence after ("tail5"),
taking turns on each clip so machine load hits them alike. Printed: pooled WER, time as a ratio
of the new settings (the baseline, same process), and how many distinct transcripts each gives
over the rounds (1 everywhere is deterministic). Rounds: COACHDESK_BENCH_ROUNDS (default 5).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

from app.logs import configure_logging
from audio.fillers import normalize_word
from audio.transcribe import Transcriber, Word

# The tests' clips and references, through bench_models (which puts tests/audio on the path).
from bench.bench_models import REFERENCES, clip, inputs, wer_of, with_noise

FALLBACK = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's default temperatures


class FallbackSettings(Transcriber):
    """Decoding as before 2026-12-03 (fallback on, no conditioning), with today's guard."""

    def whisper_options(self, vocabulary: Sequence[str] = ()) -> dict[str, Any]:
        return {
            **super().whisper_options(vocabulary),
            "temperature": FALLBACK,
            "condition_on_previous_text": False,
        }


class PreviousSettings(FallbackSettings):
    """The Transcriber as it was before 2026-12-03: also every decoded word kept (no guard)."""

    def _window_words(
        self,
        model: WhisperModel,
        samples: np.ndarray,
        offset: float,
        report: Callable[[float], None],
        cancelled: Callable[[], bool],
        vocabulary: Sequence[str] = (),
    ) -> list[Word]:
        segments, _info = model.transcribe(samples, **self.whisper_options(vocabulary))
        return [
            Word(normalize_word(w.word), offset + w.start, offset + w.end, w.probability)
            for segment in segments
            for w in segment.words or ()
        ]


def main() -> None:
    configure_logging("WARNING")
    rounds = int(os.environ.get("COACHDESK_BENCH_ROUNDS", "5"))
    settings = {
        "now": Transcriber(),
        "before": PreviousSettings(),
        "fallback": FallbackSettings(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        audio: dict[tuple[str, str], Path | np.ndarray] = inputs(Path(tmp))
        silence = np.zeros(2 * 16000, np.float32)
        for name in REFERENCES:
            audio["noisy5", name] = with_noise(clip(name), 5)
            # A bad line that goes dead: 1 s of line noise, then silence (as the tests' JFK call).
            audio["tail5", name] = np.concatenate(
                [with_noise(clip(name), 5, tail=1, seed=2), silence]
            )
        for transcriber in settings.values():
            transcriber.transcribe(audio["clean", "jfk"])  # warm-up
        texts: dict[tuple[str, tuple[str, str]], list[str]] = {}
        times: dict[tuple[str, tuple[str, str]], list[float]] = {}
        for round_index in range(rounds):
            labels = list(settings)
            order = labels[round_index % 3 :] + labels[: round_index % 3]
            for key, given in audio.items():
                for label in order:
                    start = time.perf_counter()
                    text = settings[label].transcribe(given).text
                    times.setdefault((label, key), []).append(time.perf_counter() - start)
                    texts.setdefault((label, key), []).append(text)
    conditions = sorted({condition for condition, _ in audio})
    wall = {label: sum(statistics.median(times[label, key]) for key in audio) for label in settings}
    print(f"== decoding settings on real speech ({len(REFERENCES)} clips, {rounds} rounds) ==")
    print("settings " + "  ".join(f"{c:>7}" for c in conditions) + "   time vs now  distinct")
    for label in settings:
        wers = []
        for condition in conditions:
            keys = [key for key in audio if key[0] == condition]
            wers.append(statistics.mean(wer_of(REFERENCES[k[1]], texts[label, k][0]) for k in keys))
        distinct = max(len(set(texts[label, key])) for key in audio)
        print(
            f"{label:8} "
            + "  ".join(f"{w:7.3f}" for w in wers)
            + f"   {wall[label] / wall['now']:.2f}x        {distinct}"
        )


if __name__ == "__main__":
    main()
