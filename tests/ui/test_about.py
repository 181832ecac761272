"""Help → About Coachdesk: version, Python and Qt, the speech model and the settings files."""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication

from app.version import __version__
from audio.models import default_model_path
from ui.about_dialog import AboutDialog
from ui.preferences import Preferences


def _help_menu_action(window, text):
    (help_menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"]
    return next(a for a in help_menu.actions() if a.text() == text)


def test_about_from_the_help_menu_names_versions_model_and_settings_files(window, qtbot, tmp_path):
    (tmp_path / "managed.toml").write_text('upload = "auto"\n')
    _help_menu_action(window, "&About Coachdesk").trigger()
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


def test_about_names_the_configured_model_instead_of_the_bundled_one(qtbot, ctx, tmp_path):
    user = tmp_path / "config.toml"
    user.write_text(f'[transcription]\nmodel_path = "{tmp_path / "whisper-small"}"\n')
    prefs = Preferences.load(ctx.preferences.store, user, tmp_path / "managed.toml")
    dialog = AboutDialog(prefs)
    qtbot.addWidget(dialog)
    assert dialog.values["Speech model"].text() == str(tmp_path / "whisper-small")
    assert dialog.values["Your settings file"].text() == str(user)
