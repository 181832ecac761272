"""Help → About Coachdesk: the version, what it runs on, and where its model and settings live.

What support asks first ("which version? which model? which settings file?"), selectable and
copyable in one click so a user can paste it into a message.
"""

from __future__ import annotations

import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.config import managed_config_path
from app.version import __version__
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
    ]


def _file(path: Path) -> str:
    return str(path) if path.exists() else f"{path} (not present)"


class AboutDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Coachdesk")
        self.setObjectName("aboutDialog")
        self.details = about_details(preferences)
        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for label, value in self.details:
            field = QLabel(value)
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setAccessibleName(label)
            form.addRow(f"{label}:", field)
            self.values[label] = field
        self.copy_button = QPushButton("&Copy details")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Coachdesk"))
        layout.addWidget(muted("Sales-call practice with a simulated customer."))
        layout.addLayout(form)
        layout.addStretch(1)  # spare height below the details, not between the labels
        layout.addWidget(buttons)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        self.setMinimumWidth(560)

    def text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.details)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
