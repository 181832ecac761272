"""Help → About Coachdesk: version, Python and Qt, the speech model and the settings files."""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication

from app.version import __version__
from audio.models import default_model_path
from ui.about_dialog import AboutDialog
from ui.preferences import Preferences


def test_about_from_the_help_menu_names_versions_model_and_settings_files(
    window, sign_in, qtbot, tmp_path
):
    (tmp_path / "managed.toml").write_text('upload = "auto"\n')
    sign_in(window, "trainee")
    assert window.help_button.isVisible()
    help_menu = window.help_button.menu()
    about = next(a for a in help_menu.actions() if a.text() == "&About Coachdesk")
    about.trigger()
    dialog = window.findChild(AboutDialog, "aboutDialog")
    assert dialog is not None and dialog.isVisible()
    shown = {label: field.text() for label, field in dialog.values.items()}
    assert shown["Version"] == __version__
    assert shown["Python"].startswith(platform.python_version())
    assert shown["Qt"] == f"{qVersion()} (PySide6 {PySide6.__version__})"
    assert shown["Speech model"] == f"{default_model_path()} (bundled)"
    # The user has no settings file yet; the managed one exists.
    assert shown["Your settings file"] == f"{tmp_path / 'config.toml'} (not present)"
    assert shown["Managed settings file"] == str(tmp_path / "managed.toml")
    assert shown["Recordings folder"] == str(window.ctx.preferences.loaded.settings.recordings_path)

    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert f"Version: {__version__}" in copied and f"Qt: {qVersion()}" in copied
    dialog.reject()


def test_f1_opens_about_even_before_signing_in(window, qtbot):
    assert window.pages.currentWidget() is window.signin
    qtbot.keyClick(window.signin.email, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: window.findChild(AboutDialog, "aboutDialog") is not None)
    assert window.findChild(AboutDialog, "aboutDialog").isVisible()


def test_about_names_the_configured_model_instead_of_the_bundled_one(qtbot, ctx, tmp_path):
    user = tmp_path / "config.toml"
    user.write_text(f'[transcription]\nmodel_path = "{tmp_path / "whisper-small"}"\n')
    prefs = Preferences.load(ctx.preferences.store, user, tmp_path / "managed.toml")
    dialog = AboutDialog(prefs)
    qtbot.addWidget(dialog)
    assert dialog.values["Speech model"].text() == str(tmp_path / "whisper-small")
    assert dialog.values["Your settings file"].text() == str(user)
