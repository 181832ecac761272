"""Settings dialog (microphone test meter, model, server, locked keys) and the dark mode."""

from __future__ import annotations

import tomllib

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.client.demo import FileMicrophone
from app.errors import CoachdeskError
from audio.devices import InputDevice
from ui.preferences import Preferences
from ui.settings_dialog import LOCKED_TIP, SettingsDialog
from ui.theme import DARK, LIGHT, Theme, ThemeChoice
from ui.widgets.level_meter import FLOOR_DB

HEADSET = InputDevice(3, "USB Headset", "ALSA", 1, 48000.0, False)


def test_settings_are_saved_to_the_user_file_and_reloaded(qtbot, ctx, tmp_path):
    dialog = SettingsDialog(ctx, input_devices=[HEADSET])
    qtbot.addWidget(dialog)
    dialog.device.setCurrentIndex(dialog.device.findData("USB Headset"))
    dialog.model_path.setText(str(tmp_path / "models" / "small"))
    dialog.theme.setCurrentIndex(dialog.theme.findData(ThemeChoice.DARK))
    dialog.save()
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved == {
        "input_device": "USB Headset",
        "transcription": {"model_path": str(tmp_path / "models" / "small")},
    }
    settings = ctx.preferences.loaded.settings
    assert settings.input_device == "USB Headset"
    assert settings.transcription.model_path == tmp_path / "models" / "small"
    assert ctx.theme.colors is DARK and ctx.preferences.theme is ThemeChoice.DARK


def test_an_invalid_server_url_is_refused_with_the_reason(qtbot, ctx):
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    dialog.server_url.setText("not a url")
    dialog.save()
    assert "supabase.url" in dialog.message.text() and "http(s) URL" in dialog.message.text()


def test_locked_keys_are_read_only(qtbot, ctx, tmp_path):
    managed = tmp_path / "managed.toml"
    managed.write_text('locked = ["supabase"]\n[supabase]\nurl = "https://acme.supabase.co"\n')
    ctx.preferences = Preferences.load(ctx.preferences.store, tmp_path / "config.toml", managed)
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    assert not dialog.server_url.isEnabled() and dialog.server_url.toolTip() == LOCKED_TIP
    assert dialog.server_url.text() == "https://acme.supabase.co"
    assert dialog.model_path.isEnabled()


def test_microphone_test_shows_the_level_and_keeps_nothing(qtbot, ctx, speech):
    microphone = FileMicrophone([speech("Testing, one, two, three.")], pace=0)
    dialog = SettingsDialog(ctx, recorder_factory=microphone, input_devices=[])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.mic_test.button.click()
    assert dialog.mic_test.running
    qtbot.waitUntil(lambda: dialog.mic_test.meter.peak_db > -30, timeout=30_000)
    folder = microphone.recorders[0].root
    dialog.mic_test.button.click()
    assert not dialog.mic_test.running and dialog.mic_test.meter.rms_db == FLOOR_DB
    assert not folder.exists()


def test_theme_follows_the_system_color_scheme(qapp, qtbot):
    theme = Theme(qapp, ThemeChoice.SYSTEM)
    # The offscreen platform cannot switch schemes itself; the desktop announces a switch
    # through this very signal, so emit it as the platform would.
    hints = QGuiApplication.styleHints()
    with qtbot.waitSignal(theme.changed):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.colors is DARK
    assert QApplication.palette().window().color().name() == DARK.window
    theme.set_choice(ThemeChoice.LIGHT)  # the user's choice wins over the system's
    assert theme.colors is LIGHT
    theme.set_choice(ThemeChoice.SYSTEM)
    assert theme.colors is DARK
    with qtbot.waitSignal(theme.changed):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert theme.colors is LIGHT


def test_how_a_turn_ends_is_saved_and_used_by_the_next_call(qtbot, ctx, tmp_path):
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    assert dialog.end_on_pause.isChecked() and dialog.pause_seconds.value() == 1.2  # defaults
    dialog.pause_seconds.setValue(2.5)
    dialog.save()
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved == {"practice": {"silence_seconds": 2.5}}
    assert ctx.preferences.loaded.settings.practice.turn_settings().silence_seconds == 2.5

    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    assert dialog.pause_seconds.value() == 2.5
    dialog.end_on_pause.setChecked(False)
    assert not dialog.pause_seconds.isEnabled()  # no pause length without the pause
    dialog.save()
    assert tomllib.loads((tmp_path / "config.toml").read_text())["practice"] == {
        "end_turn_on_silence": False,
        "silence_seconds": 2.5,
    }
    assert ctx.preferences.loaded.settings.practice.turn_settings() is None


def test_a_pause_length_outside_the_allowed_range_is_refused_by_the_settings_file(
    qtbot, ctx, tmp_path
):
    (tmp_path / "config.toml").write_text("[practice]\nsilence_seconds = 0.1\n")
    with pytest.raises(CoachdeskError, match=r"practice.silence_seconds = 0.1 in .*config.toml"):
        Preferences.load(ctx.preferences.store, tmp_path / "config.toml", tmp_path / "m.toml")


def test_a_locked_turn_setting_is_read_only_and_wins_over_the_user_file(qtbot, ctx, tmp_path):
    managed = tmp_path / "managed.toml"
    managed.write_text('locked = ["practice"]\n[practice]\nend_turn_on_silence = false\n')
    (tmp_path / "config.toml").write_text("[practice]\nend_turn_on_silence = true\n")
    ctx.preferences = Preferences.load(ctx.preferences.store, tmp_path / "config.toml", managed)
    loaded = ctx.preferences.loaded
    assert loaded.settings.practice.turn_settings() is None
    assert loaded.overruled == (
        f"practice.end_turn_on_silence from {tmp_path / 'config.toml'} (locked by {managed})",
    )
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    assert not dialog.end_on_pause.isChecked() and not dialog.end_on_pause.isEnabled()
    assert dialog.end_on_pause.toolTip() == LOCKED_TIP
    assert not dialog.pause_seconds.isEnabled() and dialog.pause_seconds.toolTip() == LOCKED_TIP
    dialog.save()  # nothing locked is written
    assert dialog.result() == dialog.DialogCode.Accepted


def test_the_speech_model_is_picked_from_the_installed_ones(qtbot, ctx, tmp_path):
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    names = [dialog.model.itemData(index) for index in range(dialog.model.count())]
    assert names == ["tiny.en", "base"] and dialog.model.currentData() == "tiny.en"
    dialog.model.setCurrentIndex(dialog.model.findData("base"))
    dialog.save()
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved == {"transcription": {"model": "base"}}
    assert ctx.preferences.loaded.settings.transcription.model == "base"


def test_a_model_it_locked_cannot_be_changed(qtbot, ctx, tmp_path):
    managed = tmp_path / "managed.toml"
    managed.write_text('locked = ["transcription.model"]\n[transcription]\nmodel = "base"\n')
    ctx.preferences = Preferences.load(ctx.preferences.store, tmp_path / "config.toml", managed)
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    assert dialog.model.currentData() == "base"
    assert not dialog.model.isEnabled() and dialog.model.toolTip() == LOCKED_TIP
