"""Settings on a 1366x768 laptop: the dialog fits the height Qt gives a new window there, the
microphone test row keeps its size and its message, and settings IT locked say who set them."""

from __future__ import annotations

from app.client.demo import FileMicrophone
from ui.preferences import Preferences
from ui.settings_dialog import LOCKED_NOTE, SettingsDialog

# Qt opens a window at no more than two thirds of the screen (QWidget::adjustSize).
SCREEN_1366x768_WINDOW = (1366 * 2 // 3, 768 * 2 // 3)


def test_the_dialog_fits_a_1366x768_screen_without_squeezing_the_microphone_row(qtbot, ctx, speech):
    microphone = FileMicrophone([speech("Testing, one, two.")], pace=0)
    dialog = SettingsDialog(ctx, recorder_factory=microphone, input_devices=[])
    qtbot.addWidget(dialog)
    width, height = SCREEN_1366x768_WINDOW
    hint = dialog.sizeHint()
    assert hint.width() <= width and hint.height() <= height
    dialog.show()
    # The smallest the window can be made: every part of the row still at its full size.
    dialog.resize(dialog.minimumSizeHint())
    qtbot.waitUntil(lambda: dialog.size() == dialog.minimumSizeHint(), timeout=5_000)
    mic = dialog.mic_test
    mic.button.click()
    assert mic.running
    for widget in (mic.button, mic.meter):
        assert widget.height() >= widget.sizeHint().height(), widget
        assert widget.width() >= widget.minimumSizeHint().width(), widget
    message = mic.message
    assert message.text().startswith("Speak")
    assert message.height() >= message.heightForWidth(message.width())
    assert mic.meter.width() >= 120
    mic.button.click()
    assert not mic.running


def test_locked_settings_say_they_are_set_by_the_organisation(qtbot, ctx, tmp_path):
    managed = tmp_path / "managed.toml"
    managed.write_text(
        'locked = ["supabase", "input_device"]\n[supabase]\nurl = "https://acme.supabase.co"\n'
    )
    ctx.preferences = Preferences.load(ctx.preferences.store, tmp_path / "config.toml", managed)
    dialog = SettingsDialog(ctx, input_devices=[])
    qtbot.addWidget(dialog)
    dialog.show()
    notes = dialog.locked_notes
    assert set(notes) == {"supabase.url", "supabase.anon_key", "input_device"}
    for note in notes.values():
        assert note.isVisible() and note.text() == LOCKED_NOTE == "Set by your organisation"
    assert not dialog.server_url.isEnabled() and not dialog.device.isEnabled()
    assert dialog.model_path.isEnabled()  # not locked: no note
    assert "transcription.model_path" not in notes
