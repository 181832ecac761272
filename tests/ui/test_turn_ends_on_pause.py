"""A pause ends the rep's turn, as on a real call; the key still does; the setting turns it off.

The microphone is the file-backed one the other practice tests use: espeak-ng speech after a
moment of room silence, then open-microphone silence for as long as the turn lasts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt
from ui_flows import start_assignment

from audio.decode import SAMPLE_RATE, load_audio
from ui.practice_view import turn_text

ANSWER = "Hi Dana, my name is Sam and I am calling from Coachdesk."
SLOW = 60_000


@pytest.fixture
def answer(speech, tmp_path) -> tuple[Path, float]:
    """The answer as a WAV after half a second of silence, and its length in seconds."""
    samples = load_audio(speech(ANSWER))
    padded = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), samples])
    path = tmp_path / "answer.wav"
    soundfile.write(path, padded, SAMPLE_RATE)
    return path, len(padded) / SAMPLE_RATE


def _start_cold_call(window, qtbot):
    start_assignment(window)
    practice = window.practice
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    return practice


def _rep_turns(practice):
    return [t for t in practice.transcript.turns if t.speaker == "rep"]


def test_a_pause_after_speaking_ends_the_turn_without_a_key(
    window, sign_in, qtbot, devices, answer
):
    path, length = answer
    devices.recorder_factory.add([path])
    sign_in(window, "trainee")  # the settings as installed: a pause ends the turn
    practice = _start_cold_call(window, qtbot)
    assert practice.turn.text() == turn_text("recording", "Dana Whitfield", ends_on_pause=True)
    recorder = devices.recorder_factory.recorders[-1]

    qtbot.waitUntil(lambda: not practice.controller.recording, timeout=SLOW)
    qtbot.waitUntil(lambda: len(_rep_turns(practice)) > 0, timeout=SLOW)
    # The whole answer was heard and then the pause: nothing cut off mid-sentence.
    assert recorder.seconds >= length
    assert "calling" in _rep_turns(practice)[0].text.lower()
    assert recorder.final_path.exists()


def test_with_the_setting_off_silence_goes_on_until_the_key(
    key_ends_turns, window, sign_in, qtbot, devices, answer
):
    path, length = answer
    devices.recorder_factory.add([path])
    sign_in(window, "trainee")
    practice = _start_cold_call(window, qtbot)
    assert practice.turn.text() == turn_text("recording", "Dana Whitfield")
    recorder = devices.recorder_factory.recorders[-1]
    pause = window.ctx.preferences.loaded.settings.practice.silence_seconds
    # Measured in recorded audio, not wall-clock time: well past the pause that would end it.
    qtbot.waitUntil(lambda: recorder.seconds > length + 2 * pause, timeout=SLOW)
    assert practice.controller.recording and not _rep_turns(practice)

    qtbot.keyClick(practice, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: len(_rep_turns(practice)) > 0, timeout=SLOW)
    assert "calling" in _rep_turns(practice)[0].text.lower()


def test_the_key_ends_the_turn_before_a_long_pause_would(
    preferences, window, sign_in, qtbot, devices, answer
):
    preferences.save({"practice.silence_seconds": 10.0})
    path, length = answer
    devices.recorder_factory.add([path])
    sign_in(window, "trainee")
    practice = _start_cold_call(window, qtbot)
    recorder = devices.recorder_factory.recorders[-1]
    qtbot.waitUntil(lambda: recorder.seconds > length + 2.0, timeout=SLOW)
    assert practice.controller.recording  # 2 s of silence: less than the 10 s configured

    qtbot.keyClick(practice, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(_rep_turns(practice)) > 0, timeout=SLOW)
    assert recorder.seconds < length + 10.0
