"""load_audio: any rate and channel count in, float32 mono 16 kHz out; bad files named plainly."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from audio.decode import SAMPLE_RATE, AudioReader, load_audio, resample, windows
from audio.errors import AudioFileError


def sine(rate: int, seconds: float, hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def assert_is_sine(samples: np.ndarray, hz: float = 440.0, amplitude: float = 0.5) -> None:
    # Skip the filter's ramp at both ends; in between it must be the same tone at 16 kHz.
    expected = sine(SAMPLE_RATE, len(samples) / SAMPLE_RATE, hz, amplitude)
    middle = slice(200, len(samples) - 200)
    assert np.max(np.abs(samples[middle] - expected[middle])) < 1e-3


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_any_rate_becomes_16k_mono_float32(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"tone-{rate}.wav"
    soundfile.write(path, sine(rate, 2.0), rate, subtype="PCM_16")
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == 2 * SAMPLE_RATE
    assert_is_sine(samples)


def test_stereo_44k_is_downmixed(tmp_path: Path) -> None:
    left, right = sine(44100, 1.5, amplitude=0.6), sine(44100, 1.5, amplitude=0.2)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    samples = load_audio(path)
    assert len(samples) == round(1.5 * SAMPLE_RATE)
    assert_is_sine(samples, amplitude=0.4)  # the mean of both channels


@pytest.mark.parametrize("suffix", [".flac", ".ogg"])
def test_compressed_formats_libsndfile_reads(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, sine(SAMPLE_RATE, 1.0), SAMPLE_RATE)
    samples = load_audio(path)
    assert len(samples) == SAMPLE_RATE
    assert np.corrcoef(samples[400:-400], sine(SAMPLE_RATE, 1.0)[400:-400])[0, 1] > 0.99


def test_formats_libsndfile_cannot_read_go_through_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "tone.m4a"
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.SoundFile(_write_aac(path, sine(44100, 2.0), 44100))
    samples = load_audio(path)
    # AAC adds encoder delay and padding; the tone and its length must survive.
    assert abs(len(samples) - 2 * SAMPLE_RATE) < 0.1 * SAMPLE_RATE
    assert 0.3 < np.sqrt(np.mean(samples**2)) < 0.4  # RMS of a 0.5 sine is 0.354


def _write_aac(path: Path, samples: np.ndarray, rate: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[start : start + 1024].reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_long_file_is_read_block_by_block(tmp_path: Path) -> None:
    """10 minutes of 44.1 kHz stereo (101 MiB) never sits in memory as float32 stereo (202 MiB)."""
    path = tmp_path / "long.wav"
    ten_seconds = np.repeat(sine(44100, 10.0)[:, None], 2, axis=1)  # 4400 whole cycles
    with soundfile.SoundFile(path, "w", 44100, 2, subtype="PCM_16") as long_file:
        for _ in range(60):
            long_file.write(ten_seconds)
    tracemalloc.start()
    try:
        samples = load_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(samples) == 600 * SAMPLE_RATE
    # The result (38 MiB) plus its blocks joined once: about twice the output, never 5x.
    assert peak < 2.5 * samples.nbytes
    assert_is_sine(samples[: 5 * SAMPLE_RATE])
    assert_is_sine(samples[-5 * SAMPLE_RATE :])


def test_resample_keeps_a_tone(tmp_path: Path) -> None:
    assert_is_sine(resample(sine(48000, 1.0), 48000))
    same = sine(SAMPLE_RATE, 1.0)
    assert np.array_equal(resample(same, SAMPLE_RATE), same)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="does not exist") as caught:
        load_audio(tmp_path / "nope.wav")
    assert str(tmp_path / "nope.wav") in str(caught.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty \(0 bytes\)"):
        load_audio(path)


def test_zero_length_audio(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    soundfile.write(path, np.zeros(0, dtype=np.int16), SAMPLE_RATE)
    assert path.stat().st_size > 0  # a valid header, no samples
    with pytest.raises(AudioFileError, match="contains no audio"):
        load_audio(path)


@pytest.mark.parametrize(
    "content",
    [b"hello, this is a text file and not audio\n", bytes(range(256)) * 64],
    ids=["text", "binary"],
)
def test_not_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match="not an audio file, or it is corrupt"):
        load_audio(path)


def test_video_without_sound(tmp_path: Path) -> None:
    path = tmp_path / "screen.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(AudioFileError, match="it has no audio track"):
        load_audio(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="not a file"):
        load_audio(tmp_path)


def test_corrupt_flac(tmp_path: Path) -> None:
    path = tmp_path / "tone.flac"
    soundfile.write(path, sine(SAMPLE_RATE, 3.0), SAMPLE_RATE)
    data = bytearray(path.read_bytes())
    data[200:] = bytes(len(data) - 200)  # the header survives, the audio frames do not
    path.write_bytes(bytes(data))
    with pytest.raises(AudioFileError, match="audio data is corrupt") as caught:
        load_audio(path)
    assert caught.value.path == path


def test_nan_samples(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    samples = sine(SAMPLE_RATE, 1.0)
    samples[100] = np.nan
    soundfile.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        load_audio(path)


def test_truncated_wav_keeps_what_is_there(tmp_path: Path) -> None:
    """A WAV cut short (a crash while copying) still gives the audio that made it to disk."""
    path = tmp_path / "cut.wav"
    soundfile.write(path, sine(SAMPLE_RATE, 2.0), SAMPLE_RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + SAMPLE_RATE * 2])  # header + 1 s of the 2 s
    samples = load_audio(path)
    assert len(samples) == SAMPLE_RATE
    assert_is_sine(samples)


def test_a_flac_cut_short_gives_what_decodes_and_says_so(tmp_path: Path) -> None:
    """A FLAC cut in the middle of its frames (a crash while copying it): the part before."""
    path = tmp_path / "cut.flac"
    soundfile.write(path, sine(SAMPLE_RATE, 20.0), SAMPLE_RATE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    reader = AudioReader(path)
    assert reader.duration_hint == 20.0  # the header still announces the whole
    samples = np.concatenate(list(reader.blocks()))
    assert 8 * SAMPLE_RATE < len(samples) < 10 * SAMPLE_RATE
    assert reader.cut == "flac decoder lost sync."
    assert_is_sine(samples)
    assert len(load_audio(path)) == len(samples)


def test_a_flac_never_closed_gives_what_was_flushed(tmp_path: Path) -> None:
    """A FLAC copied while still being written: no length in its header, the flushed audio."""
    path = tmp_path / "open.flac"
    with soundfile.SoundFile(tmp_path / "writing.flac", "w", SAMPLE_RATE, 1, format="FLAC") as f:
        f.write(sine(SAMPLE_RATE, 10.0))
        f.flush()
        path.write_bytes((tmp_path / "writing.flac").read_bytes())
    reader = AudioReader(path)
    assert reader.duration_hint is None
    samples = np.concatenate(list(reader.blocks()))
    assert len(samples) >= 9 * SAMPLE_RATE and reader.cut is not None
    assert_is_sine(samples)


@pytest.mark.parametrize("block", [1000, SAMPLE_RATE, 7 * SAMPLE_RATE])
def test_windows_cut_in_the_pause_and_lose_nothing(block: int) -> None:
    """Tone, a 0.5 s pause at 7.5 s, tone: a 10 s window ends in the pause; joined, unchanged."""
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    samples = np.concatenate([sine(SAMPLE_RATE, 7.5), pause, sine(SAMPLE_RATE, 12.0)])
    blocks = [samples[start : start + block] for start in range(0, len(samples), block)]
    parts = list(windows(blocks, 10.0))
    assert np.array_equal(np.concatenate(parts), samples)
    assert all(len(part) <= 10 * SAMPLE_RATE for part in parts)
    assert 7.5 * SAMPLE_RATE <= len(parts[0]) <= 8.0 * SAMPLE_RATE
