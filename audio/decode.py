"""Read any audio file as what the transcriber takes: float32 mono samples at 16 kHz.

libsndfile (soundfile) reads WAV/FLAC/OGG/MP3 block by block, so a long 44.1 kHz stereo file never
sits in memory at its full size; FFmpeg (PyAV, shipped with faster-whisper) reads the compressed
formats libsndfile does not (M4A, WebM, ...). Resampling is FFmpeg's libswresample in both cases.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile
from faster_whisper.audio import decode_audio

from audio.errors import AudioFileError

SAMPLE_RATE = 16000
# Frames per block read from disk: about 1.5 s at 44.1 kHz, small next to a long file.
_BLOCK_FRAMES = 1 << 16


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


def load_audio(path: Path) -> np.ndarray:
    """The file's audio as float32 mono 16 kHz; AudioFileError says why a file cannot be read."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(path, "the file does not exist")
    if not path.is_file():
        raise AudioFileError(path, "it is not a file")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "the file is empty (0 bytes)")
    try:
        sound = soundfile.SoundFile(path)
    except soundfile.LibsndfileError as sndfile_error:
        samples = _load_with_ffmpeg(path, sndfile_error)
    else:
        with sound:
            samples = _load_with_soundfile(path, sound)
    if samples.size == 0:
        raise AudioFileError(path, "it contains no audio")
    if not np.isfinite(samples).all():
        raise AudioFileError(path, "it contains invalid samples (NaN or infinity)")
    return samples


def _load_with_soundfile(path: Path, sound: soundfile.SoundFile) -> np.ndarray:
    resampler = Resampler(sound.samplerate) if sound.samplerate != SAMPLE_RATE else None
    parts = []
    try:
        for block in sound.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
            mono = block.mean(axis=1, dtype=np.float32)
            parts.append(resampler.feed(mono) if resampler else mono)
    except soundfile.LibsndfileError as error:
        raise AudioFileError(path, f"the audio data is corrupt ({error})") from error
    if resampler:
        parts.append(resampler.flush())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _load_with_ffmpeg(path: Path, sndfile_error: Exception) -> np.ndarray:
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            has_audio = bool(container.streams.audio)
    except av.error.FFmpegError as error:
        # Both readers refused it; their own words stay in the exception chain for support.
        error.add_note(f"libsndfile: {sndfile_error}")
        raise AudioFileError(path, "it is not an audio file, or it is corrupt") from error
    if not has_audio:
        raise AudioFileError(path, "it has no audio track")
    try:
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError) as error:
        raise AudioFileError(path, f"the audio data is corrupt ({error})") from error
