"""Speech models compared on real human speech: WER x real-time factor x memory x bundle size.

Every installed model of audio.models.MODELS transcribes the public-domain clips of
tests/data/speech (JFK, LibriVox) through the app's own Transcriber, in three conditions: as
recorded, as a phone line carries it (8 kHz, made by sox) and under white noise 10 dB below the
speech. The models take turns on each clip in each round, so machine load hits them alike, and
times are reported as ratios against tiny.en (the baseline) as well as real-time factors.
Memory is each model's peak RSS in a child process of its own (model loaded, every clip
transcribed); bundle size is its model folder on disk, what the PyInstaller bundle carries.

A second part reads a 2-hour FLAC (quiet noise with a real clip every 5 minutes) through the
streaming path and, in another child, decoded whole as before, and prints both peak RSS.
Rounds: COACHDESK_BENCH_ROUNDS (default 3).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from app.logs import configure_logging
from audio.decode import SAMPLE_RATE, load_audio
from audio.models import MODELS, installed_models, model_path
from audio.transcribe import Transcriber, TranscriberSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "audio"))
# The tests' helpers: one WER and one set of clips for tests and bench.
from audio_speech import _edit_distance, words  # noqa: E402
from real_speech import REFERENCES, clip, clip_path, with_noise  # noqa: E402

BASELINE = "tiny.en"
CONDITIONS = ("clean", "8khz", "noisy")
LONG_HOURS = 2


def peak_rss_mib() -> float:
    """This process's peak RSS. On Linux VmHWM, which starts afresh at exec: ru_maxrss would
    carry the parent's peak into a child started by subprocess."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def inputs(folder: Path) -> dict[tuple[str, str], Path | np.ndarray]:
    """(condition, clip) -> the audio the transcriber is given."""
    audio: dict[tuple[str, str], Path | np.ndarray] = {}
    for name in REFERENCES:
        audio["clean", name] = clip_path(name)
        phone = folder / f"{name}-8k.wav"
        # -D: no dither; sox's default random dither makes each run's 8 kHz audio differ.
        subprocess.run(["sox", "-D", clip_path(name), "-r", "8000", phone], check=True)
        audio["8khz", name] = phone
        audio["noisy", name] = with_noise(clip(name), 10)
    return audio


def audio_seconds(audio: Path | np.ndarray) -> float:
    samples = load_audio(audio) if isinstance(audio, Path) else audio
    return len(samples) / SAMPLE_RATE


def compare(models: list[str], rounds: int) -> dict[str, dict[str, float]]:
    transcribers = {name: Transcriber(TranscriberSettings(model=name)) for name in models}
    with tempfile.TemporaryDirectory() as tmp:
        audio = inputs(Path(tmp))
        seconds = {key: audio_seconds(value) for key, value in audio.items()}
        for transcriber in transcribers.values():
            transcriber.transcribe(audio["clean", "jfk"])  # warm-up: load, first allocations
        times = {(name, key): [] for name in models for key in audio}
        texts: dict[tuple[str, tuple[str, str]], str] = {}
        for round_index in range(rounds):
            for key, given in audio.items():
                order = models[round_index % len(models) :] + models[: round_index % len(models)]
                for name in order:
                    start = time.perf_counter()
                    texts[name, key] = transcribers[name].transcribe(given).text
                    times[name, key].append(time.perf_counter() - start)
    figures: dict[str, dict[str, float]] = {}
    for name in models:
        row: dict[str, float] = {}
        for condition in CONDITIONS:
            keys = [key for key in audio if key[0] == condition]
            errors = sum(
                _edit_distance(words(REFERENCES[key[1]]), words(texts[name, key])) for key in keys
            )
            row[f"{condition}_wer"] = errors / sum(len(words(REFERENCES[k[1]])) for k in keys)
        wall = sum(statistics.median(times[name, key]) for key in audio)
        row["wall_s"] = wall
        for key in audio:
            if wer_of(REFERENCES[key[1]], texts[name, key]) > 0.3:
                print(f"  {name} {key[0]} {key[1]}: {texts[name, key]!r}")
        row["rtf"] = sum(seconds.values()) / wall
        figures[name] = row
    for row in figures.values():
        row["vs_baseline"] = row["wall_s"] / figures[BASELINE]["wall_s"]
    return figures


def wer_of(reference: str, text: str) -> float:
    return _edit_distance(words(reference), words(text)) / len(words(reference))


def folder_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir()) / 2**20


def memory_child(name: str) -> None:
    """Child: load `name`, transcribe every clip once, print peak RSS."""
    transcriber = Transcriber(TranscriberSettings(model=name))
    for reference in REFERENCES:
        transcriber.transcribe(clip_path(reference))
    print(f"{peak_rss_mib():.1f}")


def make_long_file(path: Path) -> float:
    """LONG_HOURS of -50 dBFS noise at 16 kHz with the JFK clip at the start of every 5 min."""
    rng = np.random.default_rng(7)
    speech = clip("jfk")
    with soundfile.SoundFile(path, "w", SAMPLE_RATE, 1, format="FLAC") as long_file:
        for _ in range(LONG_HOURS * 12):
            long_file.write(speech)
            for _ in range(0, 300 - 11, 10):
                long_file.write(rng.normal(0, 0.003, 10 * SAMPLE_RATE).astype(np.float32))
    return soundfile.info(path).duration


def long_child(mode: str, path: Path) -> None:
    """Child: transcribe the long file streamed ("stream") or decoded whole ("whole")."""
    transcriber = Transcriber(TranscriberSettings())
    start = time.perf_counter()
    given = path if mode == "stream" else load_audio(path)
    utterance = transcriber.transcribe(given)
    wall = time.perf_counter() - start
    print(f"{peak_rss_mib():.1f} {wall:.1f} {len(utterance.words)}")


def child(*argv: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bench.bench_models", *argv]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return out.stdout.split()


def main() -> None:
    configure_logging("WARNING")
    rounds = int(os.environ.get("COACHDESK_BENCH_ROUNDS", "3"))
    models = installed_models()
    figures = compare(models, rounds)
    print(
        f"== models on real speech ({sum(len(words(r)) for r in REFERENCES.values())} words, "
        f"{len(REFERENCES)} clips), int8 CPU, {os.cpu_count()} cores, median of {rounds} =="
    )
    print("model    clean  8kHz   noisy  RTF    vs tiny.en  peak RSS  model on disk")
    for name in models:
        row = figures[name]
        rss = float(child("--memory", name)[0])
        print(
            f"{name:8} {row['clean_wer']:.3f}  {row['8khz_wer']:.3f}  {row['noisy_wer']:.3f}  "
            f"{row['rtf']:5.1f}x  {row['vs_baseline']:.2f}x       {rss:5.0f} MiB "
            f"{folder_mib(model_path(name)):5.0f} MiB   ({MODELS[name].provenance})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        seconds = make_long_file(path)
        print(f"== a {seconds / 3600:.1f}-hour FLAC ({path.stat().st_size / 2**20:.0f} MiB) ==")
        for mode in ("stream", "whole"):
            rss, wall, count = child("--long", mode, str(path))
            print(f"{mode:6} peak RSS {float(rss):6.0f} MiB  {float(wall):6.0f} s  {count} words")


if __name__ == "__main__":
    configure_logging("WARNING")
    if sys.argv[1:2] == ["--memory"]:
        memory_child(sys.argv[2])
    elif sys.argv[1:2] == ["--long"]:
        long_child(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
