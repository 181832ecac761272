"""Player: position, pause, seek and end of playback, with PortAudio's pulls done by the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from audio_fakes import PulledOutputStream, factory

from audio.decode import SAMPLE_RATE
from audio.errors import NoOutputDeviceError
from audio.playback import Player


@pytest.fixture
def ramp(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Two seconds whose every sample is distinct, so played samples show where playback was."""
    samples = np.linspace(-0.9, 0.9, 2 * SAMPLE_RATE, dtype=np.float32)
    path = tmp_path / "ramp.wav"
    soundfile.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    return path, samples


def test_play_pause_seek_and_position(ramp: tuple[Path, np.ndarray]) -> None:
    path, samples = ramp
    open_stream = factory(PulledOutputStream)
    player = Player(path, stream_factory=open_stream)
    assert player.duration == 2.0 and player.position == 0.0 and not player.playing
    assert open_stream.made == []  # no device is touched before play()

    player.play()
    stream = open_stream.made[0]
    assert stream.opened_with == {"samplerate": 16000, "channels": 1, "dtype": "float32"}
    assert np.array_equal(stream.pull(8000), samples[:8000])
    assert player.position == 0.5 and player.playing

    player.pause()
    assert not player.playing and not stream.active and player.position == 0.5

    player.seek(1.25)
    assert player.position == 1.25
    player.play()
    assert np.array_equal(stream.pull(1600), samples[20000:21600])
    assert player.position == 1.35

    player.seek(-3)
    assert player.position == 0.0
    player.seek(99)
    assert player.position == 2.0
    assert len(open_stream.made) == 1  # one stream, restarted


def test_end_of_file_stops_and_play_starts_over(ramp: tuple[Path, np.ndarray]) -> None:
    path, samples = ramp
    finished: list[bool] = []
    open_stream = factory(PulledOutputStream)
    player = Player(path, stream_factory=open_stream, on_finished=lambda: finished.append(True))
    player.seek(1.9)
    player.play()
    stream = open_stream.made[0]
    tail = stream.pull(2000)
    assert np.array_equal(tail[:1600], samples[-1600:])
    assert np.all(tail[1600:] == 0)  # silence after the end, never garbage
    assert finished == [True] and not player.playing and player.position == 2.0

    player.play()
    assert player.position == 0.0
    assert np.array_equal(stream.pull(100), samples[:100])
    player.pause()
    assert finished == [True]  # pausing is not finishing
    player.close()
    assert stream.closed


def test_no_speaker_by_that_name_real_portaudio(ramp: tuple[Path, np.ndarray]) -> None:
    player = Player(ramp[0], device="no such speaker 7f3a")
    with pytest.raises(NoOutputDeviceError, match="Cannot play audio: no speaker or headphones"):
        player.play()
    assert not player.playing
