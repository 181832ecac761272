"""Help → About Coachdesk: version, Python and Qt, the speech model and the settings files."""

from __future__ import annotations

import platform

import PySide6
import structlog
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication

from app.licences import licences_text
from app.logs import configure_logging, current_log_file, default_log_file
from app.version import __version__
from audio.models import default_model_path
from ui.about_dialog import AboutDialog, LicencesDialog
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


def open_about(window) -> AboutDialog:
    about = next(a for a in window.help_button.menu().actions() if a.text() == "&About Coachdesk")
    about.trigger()
    dialog = window.findChild(AboutDialog, "aboutDialog")
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_about_names_the_server_the_org_and_the_log_file(window, sign_in):
    sign_in(window, "trainee")
    dialog = open_about(window)
    shown = {label: field.text() for label, field in dialog.values.items()}
    assert shown["Server"] == window.ctx.backend.server.url
    assert shown["Organisation"] == "Northwind Demo"
    assert shown["Log file"].startswith(str(default_log_file()))
    assert f"Server: {window.ctx.backend.server.url}" in dialog.text()
    dialog.reject()


def test_about_shows_the_third_party_licences_qt_included(window, qtbot):
    dialog = open_about(window)
    assert dialog.values["Organisation"].text() == "not signed in"
    dialog.licences_button.click()
    licences = dialog.findChild(LicencesDialog, "licencesDialog")
    assert licences is not None and licences.isVisible()
    qtbot.waitUntil(lambda: "PySide6_Essentials" in licences.text.toPlainText(), timeout=30_000)
    text = licences.text.toPlainText()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "shiboken6" in text
    assert text == licences_text()


def test_the_desktop_log_goes_to_the_file_about_names(tmp_path):
    log_file = tmp_path / "logs" / "coachdesk.log"
    try:
        configure_logging("INFO", to_file=True, log_file=log_file)
        structlog.get_logger("test").info("about test line", attempt_id="a-1")
        assert current_log_file() == log_file
        written = log_file.read_text()
        assert "about test line" in written and "attempt_id=a-1" in written
    finally:
        configure_logging("INFO")
    assert current_log_file() is None
