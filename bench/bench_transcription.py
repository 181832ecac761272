"""Transcription speed: Coachdesk's pipeline vs raw faster-whisper on the same 60 s of speech.

One WhisperModel (tiny.en, int8, CPU) serves every side, and the sides take turns in each round,
so load and machine noise hit them alike. Sides:
- pipeline: `Transcriber.transcribe(path)`: decode + resample, VAD, word timestamps, the filler
  prompt, filler spellings (what a practice turn costs);
- raw: `WhisperModel.transcribe(path)` with faster-whisper's defaults (the issue's baseline);
- raw, same options: faster-whisper given the pipeline's options (what our wrapper itself adds);
- pipeline without the filler prompt (what keeping disfluencies costs).
Prints medians, real-time factors (audio seconds / wall seconds; above 1 is faster than real time),
ratios against raw, and the process's peak RSS. Rounds: COACHDESK_BENCH_ROUNDS (default 3).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.logs import configure_logging
from audio.decode import SAMPLE_RATE, load_audio
from audio.transcribe import Transcriber, TranscriberSettings

CLIP_SECONDS = 60
# A rep's side of a discovery call, read by espeak-ng and cut to exactly CLIP_SECONDS.
TEXT = (
    "Good morning, and thank you for making time for this call today. My name is Sam, and I work "
    "with sales teams that want their people to practise calls before they talk to real "
    "customers. Could you tell me how new sales people learn to handle their first calls? Most "
    "teams we meet rely on shadowing, where a new hire listens to a senior colleague for a few "
    "weeks. That works, but it takes a lot of time from your best people. Our product lets each "
    "rep run a practice call with a realistic persona on their own laptop. When the call ends, "
    "the rep sees a transcript, the share of the call they spent talking, how many questions they "
    "asked, and how often they used filler words. Managers can review any call and leave comments "
    "at a specific moment. What would you need to see to decide whether this is worth a small "
    "pilot with your team? We could pick two scenarios that match your market, invite five reps, "
    "and meet again in three weeks to look at the results together."
)


def make_clip(folder: Path) -> Path:
    spoken, clip = folder / "spoken.wav", folder / "clip.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken), "-s", "150", TEXT], check=True)
    # Loop the speech if it is short, then cut: exactly CLIP_SECONDS whatever espeak's pace.
    subprocess.run(
        ["sox", spoken, clip, "repeat", "2", "trim", "0", str(CLIP_SECONDS)],
        check=True,
        capture_output=True,
    )
    return clip


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run(rounds: int) -> dict[str, float]:
    pipeline = Transcriber(TranscriberSettings())
    model = pipeline.model
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp))
        seconds = len(load_audio(clip)) / SAMPLE_RATE
        pipeline.transcribe(clip)  # warm-up: first-call allocations, VAD model load
        # The app's footprint: one model and one transcription, before the baselines add theirs.
        rss_mib = peak_rss_mib()
        plain = Transcriber(TranscriberSettings(keep_disfluencies=False))
        plain.transcribe(clip)  # its own warm-up

        def raw_default() -> None:
            segments, _ = model.transcribe(str(clip), language="en")
            list(segments)

        def raw_same_options() -> None:
            segments, _ = model.transcribe(str(clip), **pipeline.whisper_options())
            list(segments)

        sides: dict[str, Callable[[], object]] = {
            "pipeline": lambda: pipeline.transcribe(clip),
            "raw": raw_default,
            "raw_same_options": raw_same_options,
            "pipeline_no_prompt": lambda: plain.transcribe(clip),
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for round_index in range(rounds):
            # Rotate who goes first so caches and CPU boost favour nobody.
            names = list(sides)
            order = names[round_index % len(names) :] + names[: round_index % len(names)]
            for name in order:
                start = time.perf_counter()
                sides[name]()
                times[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(samples) for name, samples in times.items()}
    figures: dict[str, float] = {"audio_s": seconds, "peak_rss_mib": rss_mib}
    for name, wall in medians.items():
        figures[f"{name}_s"] = wall
        figures[f"{name}_rtf"] = seconds / wall
        figures[f"{name}_vs_raw"] = wall / medians["raw"]
    return figures


def main() -> None:
    configure_logging("WARNING")  # figures on stdout, no per-call log lines between them
    rounds = int(os.environ.get("COACHDESK_BENCH_ROUNDS", "3"))
    figures = run(rounds)
    print(
        f"== transcription: tiny.en int8 on CPU ({os.cpu_count()} cores), "
        f"{figures['audio_s']:.0f} s espeak-ng clip, median of {rounds} rounds =="
    )
    labels = {
        "pipeline": "pipeline (Transcriber)",
        "raw": "raw faster-whisper, defaults",
        "raw_same_options": "raw faster-whisper, same options",
        "pipeline_no_prompt": "pipeline without filler prompt",
    }
    for name, label in labels.items():
        print(
            f"{label:34} {figures[f'{name}_s']:6.2f} s  real-time factor "
            f"{figures[f'{name}_rtf']:5.1f}x  vs raw {figures[f'{name}_vs_raw']:.2f}x"
        )
    print(f"peak RSS (model loaded, one pipeline run): {figures['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
