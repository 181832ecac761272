"""Transcriber on real human speech (public-domain clips): deterministic, nothing invented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from audio_speech import sox, wer, words
from faster_whisper.vad import VadOptions, get_speech_timestamps
from real_speech import REFERENCES, clip, clip_path, with_noise

from audio.decode import SAMPLE_RATE
from audio.transcribe import Transcriber, TranscriberSettings


def speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where Silero VAD (faster-whisper's, default options) hears speech, in seconds."""
    return [
        (region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE)
        for region in get_speech_timestamps(samples, VadOptions())
    ]


def test_same_real_clip_same_transcript_and_no_words_without_speech(
    transcriber: Transcriber,
) -> None:
    """JFK on a bad line (5 dB SNR) then a second of line noise and two of silence:
    five runs give one transcript, every word lies on speech, and nothing follows "country"
    (the old settings added "You" on every run)."""
    cut_off = np.zeros(2 * SAMPLE_RATE, np.float32)  # then the line goes dead: no sound at all
    samples = np.concatenate([with_noise(clip("jfk"), 5, tail=1, seed=2), cut_off])
    runs = [transcriber.transcribe(samples) for _ in range(5)]
    assert all(run == runs[0] for run in runs[1:]), [run.text for run in runs]
    utterance = runs[0]
    regions = speech_regions(samples)
    assert regions[-1][1] <= utterance.duration - 1.5
    outside = [
        word
        for word in utterance.words
        if not any(start - 0.2 <= word.start and word.end <= end + 0.2 for start, end in regions)
    ]
    assert outside == []
    assert words(utterance.text)[-2:] == ["your", "country"], utterance.text
    assert wer(REFERENCES["jfk"], utterance.text) <= 0.4, utterance.text


def pooled_wer(pairs: list[tuple[str, str]]) -> float:
    errors = sum(wer(reference, text) * len(words(reference)) for reference, text in pairs)
    return errors / sum(len(words(reference)) for reference, _ in pairs)


@pytest.mark.parametrize(("condition", "limit"), [("clean", 0.12), ("8khz", 0.15), ("noisy", 0.2)])
def test_real_speech_wer(
    transcriber: Transcriber, tmp_path: Path, condition: str, limit: float
) -> None:
    """Pooled WER over the clips: as recorded, as a phone line carries it (8 kHz, made by sox)
    and under white noise 10 dB below the speech."""
    pairs = []
    for name, reference in REFERENCES.items():
        if condition == "clean":
            audio: Path | np.ndarray = clip_path(name)
        elif condition == "8khz":
            audio = tmp_path / f"{name}-8k.wav"
            sox("-D", clip_path(name), "-r", "8000", audio)  # -D: no random dither
        else:
            audio = with_noise(clip(name), 10)
        pairs.append((reference, transcriber.transcribe(audio).text))
    assert pooled_wer(pairs) <= limit, pairs


def test_a_file_is_transcribed_window_by_window_with_its_own_times(tmp_path: Path) -> None:
    """The five clips one after another with a second between them, read in 12 s windows: each
    clip's words are timed inside that clip, and the text is as good as clip by clip."""
    gap = np.zeros(SAMPLE_RATE, np.float32)
    spans, parts, at = [], [], 0.0
    for name in REFERENCES:
        samples = clip(name)
        parts += [samples, gap]
        spans.append((at, at + len(samples) / SAMPLE_RATE))
        at += (len(samples) + len(gap)) / SAMPLE_RATE
    path = tmp_path / "clips.flac"
    soundfile.write(path, np.concatenate(parts), SAMPLE_RATE)
    transcriber = Transcriber(TranscriberSettings(window_seconds=12.0))
    progress: list[float] = []
    utterance = transcriber.transcribe(path, progress=progress.append)
    assert utterance.duration == pytest.approx(at) and utterance.cut is None
    assert wer(" ".join(REFERENCES.values()), utterance.text) <= 0.12, utterance.text
    for (start, end), reference in zip(spans, REFERENCES.values(), strict=True):
        inside = [w.text for w in utterance.words if start - 0.5 <= w.start < end + 0.5]
        assert wer(reference, " ".join(inside)) <= 0.3, (reference, inside)
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 4


def test_a_repetition_loop_is_cut_where_it_starts(transcriber: Transcriber, tmp_path: Path) -> None:
    """At 8 kHz tiny.en follows "He was not an ill disposed young man." with "And, uh, uh, uh,
    ..." up to its token limit, every word at the instant the speech ends: the loop goes."""
    phone = tmp_path / "austen-0880-8k.wav"
    sox("-D", clip_path("austen-0880"), "-r", "8000", phone)
    utterance = transcriber.transcribe(phone)
    assert wer(REFERENCES["austen-0880"], utterance.text) <= 0.25, utterance.text  # ill-disposed
    assert utterance.words[-1].text == "man.", utterance.text
