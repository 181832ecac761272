"""On-device speech to text with faster-whisper: words with timestamps, fillers kept.

One `Transcriber` per app; call it from one worker thread at a time (never the GUI thread).
It loads the model on first use, reports progress as the share of the audio transcribed, and
stops between segments when asked to.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment
from faster_whisper.transcribe import Word as WhisperWord

from audio.decode import SAMPLE_RATE, AudioReader, windows
from audio.errors import ModelLoadError, TranscriptionCancelled
from audio.fillers import FILLER_PROMPT, normalize_word
from audio.models import DEFAULT_MODEL, ModelUnavailableError, missing_model_files, model_path

log = structlog.get_logger(__name__)

# faster-whisper's own no-speech and repetition thresholds (its defaults), and the mean word
# probability below which words in a likely-silent segment are taken as invented.
NO_SPEECH_THRESHOLD = 0.6
COMPRESSION_RATIO_THRESHOLD = 2.4
MIN_WORD_PROBABILITY = 0.5
# In a looping segment, the loop starts at the first run of LOOP_REPEATS copies of 1..LOOP_NGRAM
# words ("no, no, no" in one segment of ordinary speech is not cut: it does not compress so).
LOOP_NGRAM = 4
LOOP_REPEATS = 3
# Hotwords beyond this many words are left out (a scenario's names and keywords fit well within).
MAX_HOTWORDS = 40


@dataclass(frozen=True)
class TranscriberSettings:
    model: str = DEFAULT_MODEL  # a name in audio.models.MODELS
    model_path: Path | None = None  # a model folder of one's own; takes precedence over `model`
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 5
    language: str | None = "en"
    keep_disfluencies: bool = True
    vad: bool = True
    # A file is transcribed this many seconds at a time, cut in pauses (audio.decode.windows):
    # a 2-hour file peaks at 421 MiB RSS with 120 s windows, 579 MiB with 300 s, 1,898 MiB read
    # whole (bench/bench_models.py); shorter windows gain nothing more (433 MiB at 60 s).
    window_seconds: float = 120.0


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Utterance:
    text: str
    words: tuple[Word, ...]
    duration: float  # seconds of audio given (of a cut-off file: what decoded)
    cut: str | None = None  # why a file's audio broke off early; the rest is lost


class _MonotonicProgress:
    """Forwards progress in (0, 1] only when it grows, so a progress bar never jumps back."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        fraction = min(fraction, 1.0)
        if fraction > self._last:
            self._last = fraction
            if self._callback is not None:
                self._callback(fraction)


class Transcriber:
    def __init__(self, settings: TranscriberSettings = TranscriberSettings()) -> None:
        self.settings = settings
        self._model: WhisperModel | None = None
        self._resolved: Path | None = None
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        """The model folder: the configured one, else the named model's (checked once)."""
        if self.settings.model_path is not None:
            return Path(self.settings.model_path)
        if self._resolved is None:
            try:
                self._resolved = model_path(self.settings.model)
            except ModelUnavailableError as error:
                raise ModelLoadError(Path(self.settings.model), str(error)) from error
        return self._resolved

    @property
    def model(self) -> WhisperModel:
        """The loaded faster-whisper model (loading it first), for tools and benchmarks."""
        self.load()
        assert self._model is not None
        return self._model

    def load(self) -> None:
        """Load the model once (later calls return at once); ModelLoadError if it cannot be."""
        with self._lock:
            if self._model is None:
                self._model = self._load_model()

    def _load_model(self) -> WhisperModel:
        path = self.model_path
        missing = missing_model_files(path)
        if not path.is_dir():
            raise ModelLoadError(path, "there is no model folder there")
        if missing:
            raise ModelLoadError(path, f"the folder lacks {', '.join(missing)}")
        started = time.perf_counter()
        try:
            model = WhisperModel(
                str(path),
                device=self.settings.device,
                compute_type=self.settings.compute_type,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise ModelLoadError(path, str(error) or type(error).__name__) from error
        log.info("model loaded", path=str(path), seconds=round(time.perf_counter() - started, 2))
        return model

    def transcribe(
        self,
        audio: Path | np.ndarray,
        *,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        vocabulary: Sequence[str] = (),
    ) -> Utterance:
        """Transcribe a file or float32 mono 16 kHz samples; times are seconds from its start.

        `vocabulary`: words the speaker is likely to say that a general model mishears (the
        persona's name, the company, the product, the rubric's keywords), given to the decoder.

        A file is read and transcribed a window at a time, so memory stays bounded however long
        it is; a file cut off mid-audio gives the transcript of what decodes, `cut` saying why.
        Raises AudioFileError for an unreadable file, ModelLoadError, and TranscriptionCancelled
        when `cancelled()` turns true (checked before each segment).
        """
        is_cancelled = cancelled or (lambda: False)
        if is_cancelled():
            raise TranscriptionCancelled()
        reader: AudioReader | None = None
        if isinstance(audio, str | Path):
            reader = AudioReader(Path(audio))
            pieces: Iterable[np.ndarray] = windows(reader.blocks(), self.settings.window_seconds)
            expected = reader.duration_hint
        else:
            samples = _as_samples(audio)
            pieces = [samples] if len(samples) else []
            expected = len(samples) / SAMPLE_RATE
        model = self.model
        report = _MonotonicProgress(progress)
        started = time.perf_counter()
        words: list[Word] = []
        offset = 0
        for piece in pieces:
            progress_of = _progress_in(report, offset / SAMPLE_RATE, expected)
            words += self._window_words(
                model, piece, offset / SAMPLE_RATE, progress_of, is_cancelled, vocabulary
            )
            offset += len(piece)
        duration = offset / SAMPLE_RATE if reader else expected
        report(1.0)
        log.info(
            "transcribed",
            audio_seconds=round(duration, 2),
            seconds=round(time.perf_counter() - started, 2),
            words=len(words),
        )
        texts = [word.text for word in words]
        return Utterance(
            text="".join(texts).strip(),
            words=tuple(replace(word, text=word.text.strip()) for word in words),
            duration=duration,
            cut=reader.cut if reader else None,
        )

    def _window_words(
        self,
        model: WhisperModel,
        samples: np.ndarray,
        offset: float,
        report: Callable[[float], None],
        cancelled: Callable[[], bool],
        vocabulary: Sequence[str] = (),
    ) -> list[Word]:
        """The heard words of one window, timed from the start of the whole audio."""
        words: list[Word] = []
        segments, _info = model.transcribe(samples, **self.whisper_options(vocabulary))
        try:
            for segment in _until_cancelled(segments, cancelled):
                if heard(segment):
                    words += [_word(w, offset) for w in before_loop(segment)]
                else:
                    log.info("unheard segment dropped", text=segment.text)
                report(float(segment.end))
        finally:
            segments.close()
        return words

    def whisper_options(self, vocabulary: Sequence[str] = ()) -> dict[str, Any]:
        """The options given to WhisperModel.transcribe (measured in docs/benchmarks.md)."""
        return {
            # Whisper's prompt carries them before the text so far: tiny.en hears "Hi Dana ...
            # from Coachdesk" as "Hi, Baylor ... from Coach Bessk" without, right with.
            "hotwords": hotwords(vocabulary),
            "language": self.settings.language,
            "beam_size": self.settings.beam_size,
            "word_timestamps": True,
            "vad_filter": self.settings.vad,
            # Temperature 0 only (beam search, no sampling): faster-whisper's fallback re-decodes
            # a doubtful segment by random sampling at rising temperatures, which invents text
            # ("Thank you.", "You") that differs from run to run and costs up to 4x the time.
            "temperature": 0.0,
            # Each window continues the text before it. Without that, a near-silent tail is
            # decoded from the filler prompt alone and loops; with it, fillers are kept too.
            "condition_on_previous_text": True,
            "initial_prompt": FILLER_PROMPT if self.settings.keep_disfluencies else None,
        }


def hotwords(vocabulary: Iterable[str]) -> str | None:
    """The vocabulary as Whisper's hotwords text: each term once, in order; None when empty.

    Capped in words, so a long keyword list never crowds the filler prompt and the text so far
    out of Whisper's 224-token prompt.
    """
    terms = dict.fromkeys(" ".join(term.split()) for term in vocabulary)
    kept: list[str] = []
    for term in terms:
        if term and sum(len(t.split()) for t in kept) + len(term.split()) <= MAX_HOTWORDS:
            kept.append(term)
    return ", ".join(kept) or None


def heard(segment: Segment) -> bool:
    """False for a segment Whisper rates as no speech that is a repetition loop or doubted words.

    Whisper skips a window only when it is likely silent AND its average log probability is
    below -1. Without the temperature fallback, a noisy tail above that limit comes out as a
    made-up "Yeah." (no-speech probability 0.85, word probability 0.01) or as "Yeah. Yeah. ..."
    until the token limit (compression ratio 6.3), all timed at the instant speech ends
    (tests/data/speech/jfk.flac under noise; docs/benchmarks.md).
    """
    words = segment.words or ()
    if segment.no_speech_prob <= NO_SPEECH_THRESHOLD or not words:
        return True
    looping = segment.compression_ratio > COMPRESSION_RATIO_THRESHOLD
    doubted = sum(word.probability for word in words) / len(words) < MIN_WORD_PROBABILITY
    return not (looping or doubted)


def before_loop(segment: Segment) -> list[WhisperWord]:
    """The segment's words up to where a repetition loop starts, if Whisper's compression ratio
    says it loops; all of them otherwise.

    At temperature 0 a decode can fall into "uh, uh, uh, ..." or "tough, tough, ..." until the
    token limit, every word timed at the instant speech ended (8 kHz LibriVox clips, tiny.en and
    base; docs/benchmarks.md); the fallback used to re-decode those at random.
    """
    words = list(segment.words or ())
    if segment.compression_ratio <= COMPRESSION_RATIO_THRESHOLD:
        return words
    spoken = [re.sub(r"\W", "", word.word).lower() for word in words]
    for start in range(len(spoken)):
        for size in range(1, LOOP_NGRAM + 1):
            gram = spoken[start : start + size]
            repeats = [
                spoken[start + k * size : start + (k + 1) * size] for k in range(LOOP_REPEATS)
            ]
            if len(gram) == size and all(repeat == gram for repeat in repeats):
                log.info("repetition loop cut", text=segment.text)
                kept = words[:start]
                while kept and kept[-1].end <= kept[-1].start:  # zero length: the loop's lead-in
                    kept.pop()
                return kept
    return words


def _word(word: WhisperWord, offset: float) -> Word:
    """Whisper's word, filler respelled, its leading space kept until the text is joined."""
    return Word(
        normalize_word(word.word),
        offset + float(word.start),
        offset + float(word.end),
        float(word.probability),
    )


def _progress_in(
    report: Callable[[float], None], offset: float, expected: float | None
) -> Callable[[float], None]:
    """Progress for a window starting `offset` seconds in: its segment end times as a share."""
    if not expected:
        return lambda _seconds: None
    return lambda seconds: report((offset + seconds) / expected)


def _until_cancelled(
    segments: Iterable[Segment], cancelled: Callable[[], bool]
) -> Iterator[Segment]:
    """The segments, raising TranscriptionCancelled when `cancelled()` is true before one."""
    if cancelled():
        raise TranscriptionCancelled()
    for segment in segments:
        yield segment
        if cancelled():
            raise TranscriptionCancelled()


def _as_samples(audio: np.ndarray) -> np.ndarray:
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise ValueError(f"expected mono samples (one dimension), got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)
