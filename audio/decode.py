"""Read any audio file as what the transcriber takes: float32 mono samples at 16 kHz.

libsndfile (soundfile) reads WAV/FLAC/OGG/MP3 block by block and FFmpeg (PyAV, shipped with
faster-whisper) the compressed formats libsndfile does not (M4A, WebM, ...); both stream, so
`AudioReader` hands a long file on in blocks and `windows` in transcription-sized pieces, and a
two-hour call is never in memory whole. Resampling is FFmpeg's libswresample in both cases.
A file whose audio breaks off (what a crash leaves) gives what decodes before the break.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np
import soundfile
import structlog

from audio.errors import AudioFileError

log = structlog.get_logger(__name__)

SAMPLE_RATE = 16000
# Frames per block read from disk: about 0.4 s at 44.1 kHz. Small, because the block a decoder
# fails in is lost: a cut-off file keeps all but its last fraction of a second.
_BLOCK_FRAMES = 1 << 14
# A window cut is placed at the quietest 100 ms within its last few seconds, not mid-word.
_CUT_SEARCH_SECONDS = 5.0
_CUT_FRAME = SAMPLE_RATE // 10


class Resampler:
    """Streaming float32 mono resampler to 16 kHz; feed blocks in order, then `flush()`."""

    def __init__(self, source_rate: int) -> None:
        self.source_rate = source_rate
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self._fed = 0

    def feed(self, block: np.ndarray) -> np.ndarray:
        packed = np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(packed, format="flt", layout="mono")
        frame.sample_rate = self.source_rate
        # Consecutive timestamps tell libswresample the blocks are one continuous signal.
        frame.pts = self._fed
        self._fed += len(block)
        return _joined(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        return _joined(self._resampler.resample(None))


def _joined(frames: list[av.AudioFrame]) -> np.ndarray:
    parts = [frame.to_ndarray().reshape(-1) for frame in frames]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def resample(samples: np.ndarray, source_rate: int) -> np.ndarray:
    """Float32 mono samples at `source_rate` as 16 kHz samples (a copy if already 16 kHz)."""
    if source_rate == SAMPLE_RATE:
        return np.array(samples, dtype=np.float32)
    resampler = Resampler(source_rate)
    return np.concatenate([resampler.feed(samples), resampler.flush()])


class AudioReader:
    """One audio file as float32 mono 16 kHz blocks, in order; opening it checks it is audio.

    `blocks()` may be iterated once. When the audio breaks off before its end, iteration stops
    there and `cut` says why (AudioFileError if not a sample decoded).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        _check_file(self.path)
        self.cut: str | None = None
        self._sound: soundfile.SoundFile | None = None
        try:
            self._sound = soundfile.SoundFile(self.path)
        except soundfile.LibsndfileError as sndfile_error:
            _check_ffmpeg_audio(self.path, sndfile_error)

    @property
    def duration_hint(self) -> float | None:
        """Seconds of audio the header announces; None when it does not (a crashed FLAC)."""
        if self._sound is None:
            return _ffmpeg_duration(self.path)
        frames = self._sound.frames
        return frames / self._sound.samplerate if 0 < frames < 1 << 40 else None

    def blocks(self) -> Iterator[np.ndarray]:
        decoded = 0
        parts = self._sndfile_blocks(self._sound) if self._sound else self._ffmpeg_blocks()
        for block in parts:
            if not np.isfinite(block).all():
                raise AudioFileError(self.path, "it contains invalid samples (NaN or infinity)")
            decoded += len(block)
            yield block
        if decoded == 0:
            reason = f"the audio data is corrupt ({self.cut})" if self.cut else None
            raise AudioFileError(self.path, reason or "it contains no audio")
        if self.cut:
            log.warning("audio cut off", path=str(self.path), seconds=decoded / SAMPLE_RATE)

    def _sndfile_blocks(self, sound: soundfile.SoundFile) -> Iterator[np.ndarray]:
        resampler = Resampler(sound.samplerate) if sound.samplerate != SAMPLE_RATE else None
        with sound:
            try:
                for block in sound.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
                    mono = block.mean(axis=1, dtype=np.float32)
                    yield resampler.feed(mono) if resampler else mono
            except soundfile.LibsndfileError as error:
                self.cut = str(error).removeprefix("Error : ")
        if resampler:
            yield resampler.flush()

    def _ffmpeg_blocks(self) -> Iterator[np.ndarray]:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        with av.open(str(self.path), metadata_errors="ignore") as container:
            try:
                for frame in container.decode(audio=0):
                    frame.pts = None  # timestamps after a damaged packet must not stall it
                    yield _joined(resampler.resample(frame))
            except (av.error.FFmpegError, ValueError) as error:
                self.cut = str(error)
        yield _joined(resampler.resample(None))


def load_audio(path: Path) -> np.ndarray:
    """The file's audio as float32 mono 16 kHz; AudioFileError says why a file cannot be read.

    For a long file prefer `AudioReader(path).blocks()` or `windows(...)`: this holds it whole.
    """
    parts = list(AudioReader(path).blocks())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def windows(blocks: Iterable[np.ndarray], seconds: float) -> Iterator[np.ndarray]:
    """The samples of `blocks` regrouped in windows of at most `seconds` each, in order.

    Each window but the last ends at the quietest 100 ms of its last few seconds, so a cut
    falls in a pause between words where there is one; what follows the cut opens the next.
    """
    size = round(seconds * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        while held >= size:
            joined = np.concatenate(pending)
            cut = _quietest_cut(joined[:size])
            yield joined[:cut]
            pending, held = [joined[cut:]], len(joined) - cut
    if held:
        yield np.concatenate(pending)


def _quietest_cut(window: np.ndarray) -> int:
    """An index in the window's last seconds at the middle of its least energetic 100 ms."""
    search = min(round(_CUT_SEARCH_SECONDS * SAMPLE_RATE), len(window) // 2)
    tail = window[len(window) - search :]
    frames = tail[: len(tail) // _CUT_FRAME * _CUT_FRAME].reshape(-1, _CUT_FRAME)
    if len(frames) == 0:
        return len(window)
    quietest = int(np.argmin(np.square(frames).mean(axis=1)))
    return len(window) - search + quietest * _CUT_FRAME + _CUT_FRAME // 2


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(path, "the file does not exist")
    if not path.is_file():
        raise AudioFileError(path, "it is not a file")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "the file is empty (0 bytes)")


def _check_ffmpeg_audio(path: Path, sndfile_error: Exception) -> None:
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            has_audio = bool(container.streams.audio)
    except av.error.FFmpegError as error:
        # Both readers refused it; their own words stay in the exception chain for support.
        error.add_note(f"libsndfile: {sndfile_error}")
        raise AudioFileError(path, "it is not an audio file, or it is corrupt") from error
    if not has_audio:
        raise AudioFileError(path, "it has no audio track")


def _ffmpeg_duration(path: Path) -> float | None:
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / av.time_base if container.duration else None
