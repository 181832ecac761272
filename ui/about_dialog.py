"""Help → About Coachdesk: the version, what it runs on, where its model, settings and log live,
which server and org it uses, and the third-party licences it ships.

What support asks first ("which version? which model? which settings file? which server?"),
selectable and copyable in one click so a user can paste it into a message.
"""

from __future__ import annotations

import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.config import managed_config_path
from app.licences import licences_text
from app.logs import current_log_file, default_log_file
from app.version import __version__
from ui.context import AppContext
from ui.errors import plain_message
from ui.preferences import Preferences, bundled_model
from ui.widgets.headings import heading, muted


def model_in_use(preferences: Preferences) -> str:
    """The speech model folder transcription uses: the configured one, else the bundled one."""
    configured = preferences.loaded.settings.transcription.model_path
    return str(configured) if configured is not None else f"{bundled_model()} (bundled)"


def about_details(preferences: Preferences) -> list[tuple[str, str]]:
    """(label, value) rows the dialog shows, in order."""
    settings = preferences.loaded.settings
    managed = preferences.managed_file or managed_config_path()
    return [
        ("Version", __version__),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("Speech model", model_in_use(preferences)),
        ("Your settings file", _file(preferences.user_file)),
        ("Managed settings file", _file(managed)),
        ("Data folder", str(settings.data_dir)),
        ("Recordings folder", str(settings.recordings_path)),
        ("Log file", _file(current_log_file() or default_log_file())),
    ]


def connection_details(ctx: AppContext) -> list[tuple[str, str]]:
    """Which server the app talks to, and the org the user is signed in to."""
    account = ctx.backend.account
    org = (account.org_name or account.org_id or "–") if account is not None else "not signed in"
    return [("Server", ctx.backend.server.url), ("Organisation", str(org))]


def _file(path: Path) -> str:
    return str(path) if path.exists() else f"{path} (not present)"


class LicencesDialog(QDialog):
    """The third-party licences, as THIRD-PARTY-LICENSES.txt has them (read off the GUI thread:
    from source they are collected from every package's metadata, about a second)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Third-party licences")
        self.setObjectName("licencesDialog")
        self.text = QPlainTextEdit("Loading the licences…")
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Third-party licences")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(760, 560)

    def load(self, ctx: AppContext) -> None:
        ctx.call(
            self,
            licences_text,
            self.text.setPlainText,
            on_failure=lambda error: self.text.setPlainText(
                f"The licences could not be read: {plain_message(error)}"
            ),
        )


class AboutDialog(QDialog):
    def __init__(
        self,
        preferences: Preferences,
        parent: QWidget | None = None,
        *,
        ctx: AppContext | None = None,
    ) -> None:
        """`ctx`: the running app's, for its server and org and to load the licences."""
        super().__init__(parent)
        self.setWindowTitle("About Coachdesk")
        self.setObjectName("aboutDialog")
        self.ctx = ctx
        self.details: list[tuple[str, str]] = []
        self.form = form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        connection = connection_details(ctx) if ctx is not None else []
        for label, value in about_details(preferences) + connection:
            self.add_detail(label, value)
        self.copy_button = QPushButton("&Copy details")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.licences_button = self._licences_button(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Coachdesk"))
        layout.addWidget(muted("Sales-call practice with a simulated customer."))
        layout.addLayout(form)
        layout.addStretch(1)  # spare height below the details, not between the labels
        layout.addWidget(buttons)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        self.setMinimumWidth(560)

    def _licences_button(self, buttons: QDialogButtonBox) -> QPushButton:
        button = QPushButton("Third-party &licences…")
        button.setEnabled(self.ctx is not None)
        buttons.addButton(button, QDialogButtonBox.ButtonRole.HelpRole)
        button.clicked.connect(self.show_licences)
        return button

    def show_licences(self) -> LicencesDialog:
        dialog = LicencesDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if self.ctx is not None:
            dialog.load(self.ctx)
        dialog.open()
        self.licences = dialog
        return dialog

    def add_detail(self, label: str, value: str) -> None:
        """A row; also for what is known only later (asked of the server off the GUI thread)."""
        field = QLabel(value)
        field.setWordWrap(True)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        field.setAccessibleName(label)
        self.form.addRow(f"{label}:", field)
        self.values[label] = field
        self.details.append((label, value))

    def text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.details)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
