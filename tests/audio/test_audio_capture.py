"""Recorder: the real journal, writer thread and FLAC, with the microphone replaced by a file.

Also a real kill -9 of a recording process, and the real PortAudio on a machine whose devices
are whatever they are (tests pick names that match nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sounddevice
import soundfile
from audio_fakes import FileInputStream, factory
from audio_speech import sox

from audio.capture import (
    BLOCK_FRAMES,
    SILENCE_DBFS,
    InterruptedRecording,
    Level,
    Recorder,
    block_level,
    discard,
    list_input_devices,
    recover,
    recover_interrupted,
)
from audio.decode import SAMPLE_RATE
from audio.errors import AudioError, DeviceLostError, DevicePermissionError, NoInputDeviceError

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory, speech: Callable[..., Path]) -> Path:
    """About 10 s of speech as 16 kHz int16 mono: what the microphone delivers."""
    text = (
        "Hi, this is Sam from Coachdesk. I am calling about your sales training. "
        "Do you have a minute to talk about how your team practises calls today?"
    )
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    sox(speech(text), "-r", "16000", "-b", "16", "-c", "1", path)
    return path


def int16_samples(path: Path) -> np.ndarray:
    samples, rate = soundfile.read(path, dtype="int16")
    assert rate == SAMPLE_RATE
    return samples


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for another thread to get somewhere (a deadlock guard, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def record(root: Path, samples: np.ndarray, **options: object) -> tuple[Recorder, FileInputStream]:
    """Start a Recorder fed by `samples`, wait until all were delivered; return it unfinished."""
    stream_options = {k: options.pop(k) for k in ("lose_after", "hang_after") if k in options}
    open_stream = factory(FileInputStream, samples, **stream_options)
    recorder = Recorder(root, "take", stream_factory=open_stream, **options)
    recorder.start()
    fake = open_stream.made[0]
    assert fake.done.wait(30)
    return recorder, fake


def test_records_every_sample_to_flac(tmp_path: Path, voice: Path) -> None:
    samples = int16_samples(voice)
    levels: list[Level] = []
    recorder, fake = record(tmp_path, samples, on_level=levels.append)
    assert fake.opened_with == {"samplerate": 16000, "channels": 1, "dtype": "int16"}
    path = recorder.finish()
    assert path == tmp_path / "take.flac"
    info = soundfile.info(path)
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 16000, 1)
    assert np.array_equal(int16_samples(path), samples)
    assert not recorder.journal.exists()
    assert fake.closed
    assert recover_interrupted(tmp_path) == []
    assert len(levels) == -(-len(samples) // BLOCK_FRAMES)  # one per block
    assert recorder.level == levels[-1]
    assert max(level.rms_dbfs for level in levels) > -30  # speech, not silence


def test_journal_while_recording(tmp_path: Path, voice: Path) -> None:
    samples = int16_samples(voice)
    recorder, _ = record(tmp_path, samples, attempt_id="a-1", fsync_interval=0.0)
    manifest = json.loads((recorder.journal / "manifest.json").read_text())
    assert manifest["attempt_id"] == "a-1" and manifest["sample_rate"] == 16000
    assert manifest["name"] == "take" and manifest["started_at"].endswith("+00:00")
    wait_until(lambda: recorder.synced_frames == len(samples))
    journal_audio = (recorder.journal / "audio.pcm").read_bytes()
    assert np.array_equal(np.frombuffer(journal_audio, "<i2"), samples)
    assert recorder.finish().exists()


def test_level_of_known_signals() -> None:
    half_scale_sine = (16384 * np.sin(np.linspace(0, 20 * np.pi, 1600, endpoint=False))).astype(
        np.int16
    )
    level = block_level(half_scale_sine)
    assert level.peak_dbfs == pytest.approx(-6.02, abs=0.01)
    assert level.rms_dbfs == pytest.approx(-9.03, abs=0.01)
    assert block_level(np.zeros(800, np.int16)) == Level(SILENCE_DBFS, SILENCE_DBFS)
    assert block_level(np.full(800, -32768, np.int16)).peak_dbfs == 0.0


def test_device_unplugged_mid_call_keeps_the_audio(tmp_path: Path, voice: Path) -> None:
    samples = int16_samples(voice)
    errors: list[AudioError] = []
    recorder, _ = record(tmp_path, samples, lose_after=40, on_error=errors.append)
    with pytest.raises(DeviceLostError, match="stopped sending audio at 0:02") as caught:
        recorder.finish()
    assert len(errors) == 1 and isinstance(errors[0], DeviceLostError)
    assert caught.value.path == tmp_path / "take.flac"
    assert np.array_equal(int16_samples(caught.value.path), samples[: 40 * BLOCK_FRAMES])
    assert not recorder.journal.exists()


def test_stalled_device_counts_as_lost(tmp_path: Path, voice: Path) -> None:
    samples = int16_samples(voice)
    errors: list[AudioError] = []
    recorder, _ = record(
        tmp_path, samples, hang_after=10, stall_timeout=0.3, on_error=errors.append
    )
    wait_until(lambda: bool(errors))
    assert recorder.seconds == 10 * BLOCK_FRAMES / SAMPLE_RATE
    with pytest.raises(DeviceLostError) as caught:
        recorder.finish()
    assert np.array_equal(int16_samples(caught.value.path), samples[: 10 * BLOCK_FRAMES])


def test_a_failing_level_listener_does_not_stop_recording(tmp_path: Path, voice: Path) -> None:
    samples = int16_samples(voice)

    def broken(level: Level) -> None:
        raise ZeroDivisionError("bug in the meter")

    recorder, _ = record(tmp_path, samples, on_level=broken)
    assert np.array_equal(int16_samples(recorder.finish()), samples)


def test_a_name_is_used_once(tmp_path: Path, voice: Path) -> None:
    recorder, _ = record(tmp_path, int16_samples(voice))
    recorder.finish()
    with pytest.raises(FileExistsError):
        Recorder(
            tmp_path, "take", stream_factory=factory(FileInputStream, np.zeros(1, np.int16))
        ).start()
    with pytest.raises(ValueError, match="letters, digits"):
        Recorder(tmp_path, "../escape")


def kill_mid_recording(root: Path, voice: Path) -> int:
    """Record `voice` in a child process, SIGKILL it once 3 s are fsynced; return synced samples."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent.parent), str(HERE)])}
    child = subprocess.Popen(
        [sys.executable, str(HERE / "record_child.py"), str(root), "take", str(voice)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    synced = 0
    try:
        assert child.stdout is not None
        for line in child.stdout:
            synced = int(line)
            if synced >= 3 * SAMPLE_RATE:
                break
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert synced >= 3 * SAMPLE_RATE
    return synced


def test_sigkill_mid_call_then_recover(tmp_path: Path, voice: Path) -> None:
    """A recording process killed with SIGKILL leaves a journal that recovers to the exact audio
    captured: a prefix of the source, at least everything fsynced before the kill."""
    samples = int16_samples(voice)
    root = tmp_path / "recordings"
    synced = kill_mid_recording(root, voice)

    [interrupted] = recover_interrupted(root)
    assert (interrupted.name, interrupted.attempt_id) == ("take", "attempt-1")
    assert interrupted.seconds >= synced / SAMPLE_RATE
    assert not interrupted.final_path.exists()

    # The same journal with a torn last sample (half written when the process died).
    torn = root / "torn.recording"
    shutil.copytree(interrupted.journal, torn)
    with open(torn / "audio.pcm", "ab") as pcm:
        pcm.write(b"\x7f")

    recovered = int16_samples(recover(interrupted))
    assert synced <= len(recovered) < len(samples)  # killed mid-way, nothing synced lost
    assert np.array_equal(recovered, samples[: len(recovered)])
    assert not interrupted.journal.exists()
    assert np.array_equal(int16_samples(recover(torn)), recovered)
    assert recover_interrupted(root) == []


def test_discard_an_interrupted_recording(tmp_path: Path, voice: Path) -> None:
    kill_mid_recording(tmp_path, voice)
    [interrupted] = recover_interrupted(tmp_path)
    assert isinstance(interrupted, InterruptedRecording)
    discard(interrupted)
    assert recover_interrupted(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_recover_interrupted_tidies_what_needs_no_recovery(tmp_path: Path, voice: Path) -> None:
    recorder, _ = record(tmp_path, int16_samples(voice))
    flac = recorder.finish()
    # A crash between writing the FLAC and removing the journal leaves both.
    (tmp_path / "take.recording").mkdir()
    (tmp_path / "take.recording" / "manifest.json").write_text("{}")
    # A crash between creating a journal folder and its manifest leaves an empty folder.
    (tmp_path / "early.recording").mkdir()
    # Not a journal of ours: left alone.
    (tmp_path / "other.recording").write_text("a file, not a folder")
    # A damaged manifest with audio next to it: not offered, and not deleted either.
    damaged = tmp_path / "damaged.recording"
    damaged.mkdir()
    (damaged / "manifest.json").write_text('{"name": ')
    (damaged / "audio.pcm").write_bytes(bytes(3200))
    assert recover_interrupted(tmp_path) == []
    assert (damaged / "audio.pcm").exists()
    assert flac.exists()
    assert not (tmp_path / "take.recording").exists()
    assert not (tmp_path / "early.recording").exists()
    assert (tmp_path / "other.recording").exists()


def test_no_microphone_by_that_name_real_portaudio(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "take", device="no such microphone 7f3a")
    with pytest.raises(NoInputDeviceError, match="no microphone 'no such microphone 7f3a'"):
        recorder.start()
    assert list(tmp_path.iterdir()) == []  # nothing half-made on disk


def test_list_input_devices_real_portaudio() -> None:
    devices = list_input_devices()
    expected = [d for d in sounddevice.query_devices() if d["max_input_channels"] > 0]
    assert [d.name for d in devices] == [d["name"] for d in expected]
    assert sum(d.is_default for d in devices) <= 1


def failing_factory(error: Exception) -> Callable[..., object]:
    def open_stream(**kwargs: object) -> object:
        raise error

    return open_stream


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [
        (sounddevice.PortAudioError("Error querying device -1"), NoInputDeviceError, "no micro"),
        (
            sounddevice.PortAudioError(
                "Unanticipated host error", -9999, (8, -13, "Permission denied")
            ),
            DevicePermissionError,
            "privacy settings",
        ),
        (
            sounddevice.PortAudioError(
                "Unanticipated host error", -9999, (13, -2147024891, "Access is denied.")
            ),
            DevicePermissionError,
            "Allow microphone access",
        ),
        (
            sounddevice.PortAudioError("Device unavailable", -9985, (8, -16, "busy")),
            NoInputDeviceError,
            "busy or was disconnected",
        ),
        (
            sounddevice.PortAudioError("Invalid sample rate", -9997),
            NoInputDeviceError,
            "cannot run at 16 kHz",
        ),
    ],
)
def test_open_errors_in_plain_words(
    tmp_path: Path, error: Exception, expected: type[AudioError], words: str
) -> None:
    recorder = Recorder(tmp_path, "take", stream_factory=failing_factory(error))
    with pytest.raises(expected, match=words):
        recorder.start()
    assert not recorder.journal.exists()
