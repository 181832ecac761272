"""Recorder: the real journal, writer thread and FLAC, with the microphone replaced by a file.

Also a full disk, a real kill -9 of a recording process, and the real PortAudio on a machine
whose devices are whatever they are (tests pick names that match nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import sounddevice
import soundfile
from audio_fakes import FileInputStream, factory
from audio_speech import sox
from disk_support import journals_fill_the_disk

from audio.capture import (
    BLOCK_FRAMES,
    SAMPLE_BYTES,
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
from audio.errors import (
    AudioError,
    DeviceLostError,
    DevicePermissionError,
    DiskFullError,
    NoInputDeviceError,
)

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


# A disk that fills up mid-recording: once at the file boundary (the journal's writes fail with
# ENOSPC, as the OS reports it), once on a real tiny tmpfs where even the FLAC no longer fits.
ROOM_BLOCKS = 30  # the journal's audio that fits before the disk is full


def _start(root: Path, samples: np.ndarray, errors: list[AudioError]) -> Recorder:
    recorder = Recorder(
        root,
        "turn-01",
        stream_factory=factory(FileInputStream, samples),
        on_error=errors.append,
        fsync_interval=0.0,
    )
    recorder.start()
    return recorder


def test_a_full_disk_stops_the_recording_and_keeps_the_audio_so_far(
    tmp_path: Path, voice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journals_fill_the_disk(monkeypatch, ROOM_BLOCKS * BLOCK_FRAMES * SAMPLE_BYTES)
    samples = int16_samples(voice)
    errors: list[AudioError] = []
    recorder = _start(tmp_path, samples, errors)
    wait_until(lambda: bool(errors))

    [error] = errors  # said once, while recording, for the screen to stop the call
    assert isinstance(error, DiskFullError)
    assert str(error).startswith("The disk is full (")
    assert f"free in {tmp_path}" in str(error)
    assert "the recording stopped at 0:01. Everything recorded up to then is kept." in str(error)
    with pytest.raises(DiskFullError) as finished:
        recorder.finish()  # stops cleanly: the FLAC of what was written, journal gone
    assert finished.value.path == tmp_path / "turn-01.flac"
    kept = int16_samples(finished.value.path)
    assert np.array_equal(kept, samples[: ROOM_BLOCKS * BLOCK_FRAMES])
    assert not recorder.journal.exists()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KB file system (tmpfs; mounting needs root), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", f"coachdesk-test-{uuid.uuid4().hex[:8]}", disk],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", disk], check=True)


def test_on_a_really_full_disk_the_journal_stays_and_recovers_once_there_is_room(
    tiny_disk: Path, voice: Path
) -> None:
    samples = int16_samples(voice)
    filler = tiny_disk / "other-program.bin"
    # Leave room for about three seconds of audio, not the whole ten.
    filler.write_bytes(bytes(512 * 1024 - 3 * 16_000 * SAMPLE_BYTES))
    root = tiny_disk / "recordings"
    errors: list[AudioError] = []
    recorder = _start(root, samples, errors)
    wait_until(lambda: bool(errors))
    assert isinstance(errors[0], DiskFullError) and f"free in {root}" in str(errors[0])

    with pytest.raises(DiskFullError, match="offered for recovery at the next start") as caught:
        recorder.finish()
    assert caught.value.path is None  # not even the FLAC fits: the journal is the copy
    assert recorder.journal.exists() and not recorder.final_path.exists()

    filler.unlink()  # the user frees some space; the next start recovers the recording
    [interrupted] = recover_interrupted(root)
    recovered = int16_samples(recover(interrupted))
    assert 16_000 <= len(recovered) < len(samples)
    assert np.array_equal(recovered, samples[: len(recovered)])
    assert soundfile.info(interrupted.final_path).format == "FLAC"
