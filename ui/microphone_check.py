"""Before a practice call starts: is there a microphone that records? If not, say so, offer the
microphones there are, and Retry; the call starts only once one works.

A call without a working input would run its timer behind an error and end as a call in which
nothing was said. The check is PortAudio's settings check (audio.devices.check_input), which
opens no stream; the dialog is non-blocking, and the chosen microphone is kept in the settings
unless the organisation locked that setting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import CoachdeskError
from audio.devices import InputDevice
from audio.errors import AudioError
from ui.errors import plain_message
from ui.preferences import Preferences
from ui.widgets.headings import muted, subheading

log = structlog.get_logger(__name__)

SYSTEM_DEFAULT = "System default"
LOCKED = "Set by your organisation."

# device (None: the system default) -> None if it can record; raises AudioError if not
InputCheck = Callable[[str | None], None]
InputDevices = Callable[[], Sequence[InputDevice]]


def input_problem(check: InputCheck, device: str | None) -> str | None:
    """Why `device` cannot record, in plain words; None when it can."""
    try:
        check(device)
    except AudioError as error:
        log.info("microphone check failed", device=device, error=str(error))
        return plain_message(error)
    return None


class MicrophoneCheck(QDialog):
    """Shown when the configured microphone cannot record; `ready(device)` once one can."""

    ready = Signal(object)  # the device name that works (None: the system default)

    def __init__(
        self,
        problem: str,
        *,
        device: str | None,
        check: InputCheck,
        devices: InputDevices,
        preferences: Preferences,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("microphoneCheck")
        self.setWindowTitle("No working microphone")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._check = check
        self._devices = devices
        self._preferences = preferences
        self.problem = QLabel(problem)
        self.problem.setObjectName("microphoneProblem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.picker = QComboBox()
        self.picker.setObjectName("microphonePicker")
        self.picker.setAccessibleName("Microphone")
        self.retry_button = QPushButton("&Retry")
        self.retry_button.setObjectName("primary")
        self.retry_button.setDefault(True)
        buttons = QDialogButtonBox()
        buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("&Microphone", self.picker)
        layout = QVBoxLayout(self)
        layout.addWidget(subheading("The call needs a microphone"))
        layout.addWidget(self.problem)
        layout.addWidget(
            muted(
                "Connect a microphone (or allow Coachdesk to use it), choose it below and press "
                "Retry. The call starts once it records."
            )
        )
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)  # the problem's sentence on two lines, not five
        self.list_devices(device)
        if preferences.loaded.is_locked("input_device"):
            self.picker.setEnabled(False)
            self.picker.setToolTip(LOCKED)
        self.retry_button.clicked.connect(self.retry)
        buttons.rejected.connect(self.reject)

    @property
    def device(self) -> str | None:
        return self.picker.currentData()

    def list_devices(self, keep: str | None) -> None:
        """The microphones there are now (one may have been plugged in), `keep` selected."""
        self.picker.clear()
        self.picker.addItem(SYSTEM_DEFAULT, None)
        for found in self._devices():
            label = f"{found.name} (default)" if found.is_default else found.name
            self.picker.addItem(label, found.name)
        if keep is not None and self.picker.findData(keep) < 0:
            self.picker.addItem(f"{keep} (not connected)", keep)
        self.picker.setCurrentIndex(max(self.picker.findData(keep), 0))

    def retry(self) -> None:
        device = self.device
        problem = input_problem(self._check, device)
        if problem is not None:
            self.problem.setText(problem)
            self.list_devices(device)
            return
        self._remember(device)
        self.accept()
        self.ready.emit(device)

    def _remember(self, device: str | None) -> None:
        """Keep the microphone that works for the next call too (unless locked)."""
        settings = self._preferences.loaded
        if settings.is_locked("input_device") or settings.settings.input_device == device:
            return
        try:
            self._preferences.save({"input_device": device})
        except (CoachdeskError, OSError) as error:
            log.warning("chosen microphone not saved", device=device, error=str(error))
