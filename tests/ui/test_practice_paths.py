"""Practice paths besides the complete call: hanging up early, no microphone before the call
(it does not start until one records), and a microphone lost once it runs."""

from __future__ import annotations

import functools

import sounddevice
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from ui_flows import start_assignment

from app.client.demo import FileMicrophone
from app.client.views import SyncState
from audio.capture import Recorder
from audio.devices import InputDevice, check_input
from ui.microphone_check import MicrophoneCheck

SLOW = 60_000


def test_ctrl_e_hangs_up_keeping_the_turn_being_spoken(
    key_ends_turns, window, sign_in, qtbot, devices, speech, db
):
    first = speech("Hi Dana, my name is Sam and I am calling from Coachdesk.")
    second = speech("We help teams like yours reduce costs.")
    devices.recorder_factory.add([first, second])
    sign_in(window, "trainee")
    start_assignment(window)
    practice = window.practice
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    recorder = devices.recorder_factory.recorders[-1]
    qtbot.waitUntil(lambda: recorder.seconds > 4.0, timeout=SLOW)
    qtbot.keyClick(practice, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # end turn
    qtbot.waitUntil(lambda: len(devices.recorder_factory.recorders) == 2, timeout=SLOW)
    second_recorder = devices.recorder_factory.recorders[-1]
    qtbot.waitUntil(lambda: second_recorder.seconds > 3.0, timeout=SLOW)
    qtbot.keyClick(practice, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # end call

    review = window.review
    qtbot.waitUntil(lambda: review.detail is not None, timeout=SLOW)
    qtbot.waitUntil(lambda: review.detail.row.sync_state is SyncState.SCORED, timeout=SLOW)
    rep_turns = [t for t in review.transcript.turns if t.speaker == "rep"]
    assert len(rep_turns) == 2 and "costs" in rep_turns[1].text.lower()
    # Hung up at "interest", before any end node: the persona's last line is no closing line.
    assert review.transcript.turns[-1].text == (
        "Okay, that is relevant. What would a next step look like?"
    )
    (status,) = db.execute(
        "select status from public.scenario_attempts where id = %s", (review.detail.row.id,)
    ).fetchone()
    assert status == "scored"


def _no_microphone(**_options):
    # What PortAudio raises when there is no input device (paInvalidDevice).
    raise sounddevice.PortAudioError("Error querying device -1", -9996)


class Microphones:
    """The computer's input devices at the PortAudio boundary: none, until one is plugged in."""

    def __init__(self) -> None:
        self.plugged: list[InputDevice] = []

    def plug(self, name: str) -> None:
        self.plugged.append(InputDevice(len(self.plugged), name, "ALSA", 1, 48_000.0, False))

    def check_input_settings(self, *, device, **_settings) -> None:
        """sounddevice.check_input_settings as PortAudio answers it here (no default input)."""
        if device is None:
            raise sounddevice.PortAudioError("Error querying device -1", -9996)
        if device not in [found.name for found in self.plugged]:
            raise ValueError(f"No input device matching {device!r}")


def test_no_microphone_the_call_waits_for_one_picked_and_retried(
    window, sign_in, qtbot, devices, preferences, speech
):
    computer = Microphones()
    heard = FileMicrophone([speech("Hi Dana, my name is Sam.")], pace=0)
    opened: list[str | None] = []
    devices.recorder_factory = None  # the configured microphone, as the app runs
    devices.microphone = lambda device: opened.append(device) or heard
    devices.input_check = functools.partial(
        check_input, check_settings=computer.check_input_settings
    )
    devices.input_devices = lambda: list(computer.plugged)
    sign_in(window, "trainee")
    start_assignment(window)

    dialog = window.findChild(MicrophoneCheck, "microphoneCheck")
    assert dialog is not None and dialog.isVisible()
    assert dialog.problem.text().startswith("Cannot record: no microphone is connected.")
    picker = dialog.picker
    assert [picker.itemText(i) for i in range(picker.count())] == ["System default"]
    # The call has not started: no practice screen, no timer, nothing recorded.
    assert window.practice.controller is None and opened == []
    assert window.pages.currentWidget() is not window.practice

    computer.plug("USB Headset")
    dialog.retry_button.click()  # the default still does not record; the headset is listed now
    assert dialog.isVisible() and window.practice.controller is None
    assert dialog.problem.text().startswith("Cannot record: no microphone is connected.")
    assert [picker.itemText(i) for i in range(picker.count())] == [
        "System default",
        "USB Headset",
    ]
    picker.setCurrentIndex(1)
    dialog.retry_button.click()

    qtbot.waitUntil(lambda: window.practice.controller is not None, timeout=SLOW)
    assert opened == ["USB Headset"]
    assert preferences.loaded.settings.input_device == "USB Headset"  # kept for the next call
    qtbot.waitUntil(lambda: window.practice.controller.recording, timeout=SLOW)
    assert window.pages.currentWidget() is window.practice


def test_a_microphone_lost_during_the_call_is_said_in_plain_words(window, sign_in, qtbot, devices):
    devices.recorder_factory = lambda root, name, on_level: Recorder(
        root, name, on_level=on_level, stream_factory=_no_microphone
    )
    sign_in(window, "trainee")
    start_assignment(window)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorMessage") is not None, timeout=SLOW)
    text = window.findChild(QMessageBox, "errorMessage").text()
    assert text.startswith("Cannot record: no microphone is connected.")
    assert "Traceback" not in text
    assert window.practice.notice.text() == text
    assert not window.practice.end_turn_button.isEnabled()
    assert window.practice.end_call_button.isEnabled()  # the way out stays open
