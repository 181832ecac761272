"""The persona's voice: espeak-ng speaks where the system has no speech engine (Linux without
speech-dispatcher), and the practice screen always shows each line as text, with the persona's
avatar and name, and says so when no voice works.

The only stand-in is the sound card: an output stream that pulls the audio as fast as it can
and keeps it, so the test hears what the speakers would have played.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from ui_fakes import RecordingSpeakers
from ui_flows import SLOW, start_assignment

from audio.decode import SAMPLE_RATE
from audio.playback import Player
from ui.voice import ESPEAK, NO_ENGINE, PersonaVoice, espeak_command


@pytest.fixture
def speakers() -> RecordingSpeakers:
    return RecordingSpeakers()


def test_espeak_ng_is_installed_as_make_run_promises():
    assert espeak_command() is not None, "the Makefile's APT_PACKAGES install espeak-ng"


def test_without_a_system_engine_espeak_ng_says_the_line_aloud(qtbot, speakers):
    voice = PersonaVoice(engines=(), line_player=speakers.player)
    assert voice.available and voice.engine == ESPEAK and voice.problem is None
    with qtbot.waitSignal(voice.finished, timeout=SLOW):
        assert voice.say("Dana speaking. Who is this?", "en-us")
    heard = speakers.heard()
    # About 1.5 s of speech at 165 words a minute, and audibly more than silence.
    assert 0.8 < len(heard) / SAMPLE_RATE < 5.0
    assert float(np.sqrt(np.mean(heard**2))) > 0.01


def test_a_voice_espeak_ng_lacks_falls_back_to_its_default_voice(qtbot, speakers):
    voice = PersonaVoice(engines=(), line_player=speakers.player)
    with qtbot.waitSignal(voice.finished, timeout=SLOW):
        voice.say("Fine, send an invite.", "xx-nowhere")
    assert len(speakers.heard()) / SAMPLE_RATE > 0.5


def test_no_speakers_is_reported_and_the_call_goes_on(qtbot):
    def no_speakers(path: Path, on_finished: Callable[[], None]) -> Player:
        raise OSError("no output device")

    voice = PersonaVoice(engines=(), line_player=no_speakers)
    with (
        qtbot.waitSignal(voice.failed, timeout=SLOW) as failed,
        qtbot.waitSignal(voice.finished, timeout=SLOW),
    ):
        voice.say("Hello?")
    assert "no output device" in failed.args[0]


def test_practice_shows_each_line_with_name_and_avatar_and_says_there_is_no_voice(
    window, sign_in, qtbot, devices, preferences
):
    preferences.speak_persona = True
    devices.use_voice = True
    devices.voice = PersonaVoice(engines=(), espeak=None)  # a computer with no engine at all
    sign_in(window, "trainee")
    start_assignment(window)
    practice = window.practice
    assert practice.voice_notice.isVisible()
    assert practice.voice_notice.text() == NO_ENGINE
    assert practice.speaker_name.text() == "Dana Whitfield"
    assert practice.speaker_avatar.initials == "DW"
    assert practice.persona_card.avatar.initials == "DW"
    assert practice.persona_line.text()  # never empty, even before the first line
    qtbot.waitUntil(lambda: "Who is this?" in practice.persona_line.text(), timeout=SLOW)
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    practice.close_call()


def test_practice_with_espeak_ng_speaks_the_opening_line_then_listens(
    window, sign_in, qtbot, devices, preferences, speakers
):
    preferences.speak_persona = True
    devices.use_voice = True
    devices.voice = PersonaVoice(engines=(), line_player=speakers.player)
    sign_in(window, "trainee")
    start_assignment(window)
    practice = window.practice
    assert not practice.voice_notice.isVisible()
    assert practice.controller.voice is devices.voice
    qtbot.waitUntil(lambda: "Who is this?" in practice.persona_line.text(), timeout=SLOW)
    # The line lasts as long as the voice: the rep's turn starts once it has been played.
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    assert speakers.opened == 1 and len(speakers.heard()) / SAMPLE_RATE > 0.8
    practice.close_call()


def test_skip_voice_stops_the_line_and_the_next_line_is_said(qtbot, speakers):
    voice = PersonaVoice(engines=(), line_player=speakers.player)
    finished: list[int] = []
    voice.finished.connect(lambda: finished.append(1))
    voice.say("We already have a vendor for that. Why should I spend time on this?")
    voice.stop()  # Ctrl+K while espeak-ng is still making the line
    assert finished == [1]
    with qtbot.waitSignal(voice.finished, timeout=SLOW):
        voice.say("Fine, send an invite.")
    assert finished == [1, 1] and len(speakers.heard()) / SAMPLE_RATE > 0.5


def test_an_engine_that_cannot_start_is_reported(qtbot, tmp_path):
    voice = PersonaVoice(engines=(), espeak=str(tmp_path / "no-such-espeak"))
    with (
        qtbot.waitSignal(voice.failed, timeout=SLOW) as failed,
        qtbot.waitSignal(voice.finished, timeout=SLOW),
    ):
        voice.say("Hello?")
    assert "could not start" in failed.args[0]
