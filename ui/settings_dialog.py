"""Settings: microphone (with a test meter), transcription model, how a turn ends, server,
appearance, account.

App settings go through ui/preferences.py into app/config.py's user file; keys an administrator
locked are shown read-only. The microphone test records into a temporary folder that is removed
when the test stops: nothing of it is kept.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.config import PracticeSettings
from app.errors import CoachdeskError
from audio.capture import Level
from audio.errors import AudioError
from ui.context import AppContext
from ui.errors import plain_message
from ui.practice_controller import RecorderFactory, RecorderLike, microphone
from ui.preferences import bundled_model
from ui.theme import ThemeChoice
from ui.widgets.headings import muted
from ui.widgets.level_meter import LevelMeter

LOCKED_TIP = "Set by your organisation's IT; it cannot be changed here."
LOCKED_NOTE = "Set by your organisation"
COLUMN_SPLIT = 3  # groups in the left column


class _LevelRelay(QObject):
    """The recorder reports levels on its writer thread; Qt queues them to the meter."""

    level = Signal(object)


class MicrophoneTest(QWidget):
    """Start/stop a throwaway recording and show its level."""

    def __init__(
        self, recorder_factory: RecorderFactory | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._factory = recorder_factory
        self._recorder: RecorderLike | None = None
        self._folder: Path | None = None
        self.device: str | None = None
        self.meter = LevelMeter()
        self.button = QPushButton("&Test microphone")
        self.message = muted()
        self._relay = _LevelRelay(self)
        self._relay.level.connect(
            lambda level: self.meter.set_level(level.rms_dbfs, level.peak_dbfs)
        )
        # Every part keeps its own height: with a wrapping label below, a short window once
        # squeezed the button to a sliver (at 1366x768) instead of leaving the row alone.
        for widget in (self.button, self.meter):
            widget.setSizePolicy(widget.sizePolicy().horizontalPolicy(), QSizePolicy.Policy.Fixed)
        self.message.setMinimumHeight(2 * self.message.fontMetrics().lineSpacing())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.meter, 1)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetMinimumSize)
        self.button.clicked.connect(self.toggle)

    @property
    def running(self) -> bool:
        return self._recorder is not None

    def toggle(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        factory = self._factory or microphone(self.device)
        self._folder = Path(tempfile.mkdtemp(prefix="coachdesk-mic-test-"))
        recorder = factory(self._folder, "test", self._on_level)
        try:
            recorder.start()
        except (AudioError, OSError) as error:
            self.message.setText(plain_message(error))
            self._cleanup()
            return
        self._recorder = recorder
        self.button.setText("S&top test")
        self.message.setText("Speak: the bar should move to about the middle.")

    def stop(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            try:
                recorder.finish()
            except AudioError as error:
                self.message.setText(plain_message(error))
        self._cleanup()
        self.button.setText("&Test microphone")
        self.meter.reset()

    def _on_level(self, level: Level) -> None:
        self._relay.level.emit(level)

    def _cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class SettingsDialog(QDialog):
    sign_out_requested = Signal()

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        *,
        recorder_factory: RecorderFactory | None = None,
        input_devices: list[Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Coachdesk settings")
        self.setObjectName("settingsDialog")
        prefs = ctx.preferences
        settings = prefs.loaded.settings

        self.device = QComboBox()
        self.device.setAccessibleName("Microphone")
        self.device.addItem("System default", None)
        for device in input_devices if input_devices is not None else _input_devices():
            self.device.addItem(f"{device.name} ({device.host_api})", device.name)
        self.device.setCurrentIndex(max(self.device.findData(settings.input_device), 0))
        self.mic_test = MicrophoneTest(recorder_factory)
        self.model = QComboBox()
        self.model.setAccessibleName("Speech-to-text model")
        for name in _model_choices(settings.transcription.model):
            self.model.addItem(name, name)
        self.model.setCurrentIndex(max(self.model.findData(settings.transcription.model), 0))
        self.model_path = QLineEdit(str(settings.transcription.model_path or ""))
        self.model_path.setPlaceholderText(f"The chosen model ({bundled_model()})")
        self.model_path.setAccessibleName("Speech-to-text model folder")
        self.browse = QPushButton("&Browse…")
        practice = settings.practice
        self.end_on_pause = QCheckBox("End my turn when I &pause")
        self.end_on_pause.setChecked(practice.end_turn_on_silence)
        self.pause_seconds = QDoubleSpinBox()
        self.pause_seconds.setAccessibleName("Pause that ends a turn, in seconds")
        self.pause_seconds.setRange(*_field_bounds("silence_seconds"))
        self.pause_seconds.setSingleStep(0.1)
        self.pause_seconds.setDecimals(1)
        self.pause_seconds.setSuffix(" s")
        self.pause_seconds.setValue(practice.silence_seconds)
        self.server_url = QLineEdit(settings.supabase.url or "")
        self.server_url.setPlaceholderText(f"Local stack ({ctx.backend.server.url})")
        self.server_url.setAccessibleName("Server URL")
        self.anon_key = QLineEdit(settings.supabase.anon_key or "")
        self.anon_key.setPlaceholderText("Anon key of the Supabase project")
        self.anon_key.setAccessibleName("Server anon key")
        self.theme = QComboBox()
        self.theme.setAccessibleName("Appearance")
        for choice, text in (
            (ThemeChoice.SYSTEM, "Follow the system"),
            (ThemeChoice.LIGHT, "Light"),
            (ThemeChoice.DARK, "Dark"),
        ):
            self.theme.addItem(text, choice)
        self.theme.setCurrentIndex(self.theme.findData(prefs.theme))
        self.speak = QCheckBox("Speak the persona's lines aloud")
        self.speak.setChecked(prefs.speak_persona)
        account = ctx.backend.account
        self.account = QLabel(
            f"{account.display_name} ({account.email}) · {account.role or 'no role'} in "
            f"{account.org_name or 'no org'}"
            if account
            else "Not signed in"
        )
        self.account.setWordWrap(True)
        self.sign_out_button = QPushButton("Sign &out")
        self.sign_out_button.setEnabled(account is not None)
        self.message = muted()
        self.message.setObjectName("settingsMessage")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )

        audio = QFormLayout()
        audio.addRow("&Microphone", self.device)
        audio.addRow("", self.mic_test)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_path, 1)
        model_row.addWidget(self.browse)
        audio.addRow("Speech m&odel", self.model)
        model_label = QLabel("Model &folder")
        model_label.setBuddy(self.model_path)
        audio.addRow(model_label, model_row)
        turns = QFormLayout()
        turns.addRow("", self.end_on_pause)
        turns.addRow("Pause &length", self.pause_seconds)
        turns.addRow("", muted("Space or Ctrl+Enter always ends your turn."))
        server = QFormLayout()
        server.addRow("Server &URL", self.server_url)
        server.addRow("Anon &key", self.anon_key)
        server.addRow("", muted("A new server is used from the next sign-in."))
        look = QFormLayout()
        look.addRow("&Appearance", self.theme)
        look.addRow("", self.speak)
        account_box = QHBoxLayout()
        account_box.addWidget(self.account, 1)
        account_box.addWidget(self.sign_out_button)
        # Two columns: one column of five groups was taller than a 1366x768 screen gives a
        # new window (two thirds of it), and Qt took the missing height from the microphone row.
        columns = QGridLayout()
        for index, (title, inner) in enumerate(
            (
                ("Audio and transcription", audio),
                ("Your turn", turns),
                ("Account", account_box),
                ("Server", server),
                ("Appearance", look),
            )
        ):
            group = QGroupBox(title)
            group.setLayout(inner)
            left = index < COLUMN_SPLIT
            columns.addWidget(group, index if left else index - COLUMN_SPLIT, 0 if left else 1)
        columns.setRowStretch(COLUMN_SPLIT, 1)
        columns.setColumnStretch(0, 1)
        columns.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        self.locked_notes: dict[str, QLabel] = {}
        self._lock("input_device", self.device)
        self._lock("transcription.model", self.model)
        self._lock("transcription.model_path", self.model_path, self.browse)
        self._lock("supabase.url", self.server_url)
        self._lock("supabase.anon_key", self.anon_key)
        self._lock("practice.end_turn_on_silence", self.end_on_pause)
        self._lock("practice.silence_seconds", self.pause_seconds)
        self.end_on_pause.toggled.connect(self._end_on_pause_changed)
        self._end_on_pause_changed()
        self.device.currentIndexChanged.connect(self._device_changed)
        self._device_changed()
        self.browse.clicked.connect(self._browse)
        self.sign_out_button.clicked.connect(self._sign_out)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.finished.connect(lambda _result: self.mic_test.stop())

    def changes(self) -> dict[str, Any]:
        """The app settings the form changes, as dotted keys (None: back to the default)."""
        settings = self.ctx.preferences.loaded.settings
        wanted: dict[str, Any] = {
            "input_device": self.device.currentData(),
            "transcription.model": self.model.currentData(),
            "transcription.model_path": self.model_path.text().strip() or None,
            "supabase.url": self.server_url.text().strip() or None,
            "supabase.anon_key": self.anon_key.text().strip() or None,
            "practice.end_turn_on_silence": self.end_on_pause.isChecked(),
            "practice.silence_seconds": round(self.pause_seconds.value(), 1),
        }
        current = {
            "input_device": settings.input_device,
            "transcription.model": settings.transcription.model,
            "transcription.model_path": str(settings.transcription.model_path or "") or None,
            "supabase.url": settings.supabase.url,
            "supabase.anon_key": settings.supabase.anon_key,
            "practice.end_turn_on_silence": settings.practice.end_turn_on_silence,
            "practice.silence_seconds": settings.practice.silence_seconds,
        }
        return {key: value for key, value in wanted.items() if value != current[key]}

    def save(self) -> None:
        prefs = self.ctx.preferences
        try:
            changes = self.changes()
            if changes:
                prefs.save(changes)
        except CoachdeskError as error:
            self.message.setText(str(error))
            return
        prefs.theme = ThemeChoice(self.theme.currentData())
        prefs.speak_persona = self.speak.isChecked()
        self.ctx.theme.set_choice(prefs.theme)
        self.accept()

    def _lock(self, key: str, *widgets: QWidget) -> None:
        """Make an administrator's locked setting read-only, saying so in words beside it (a
        greyed-out field alone reads as broken, and a tooltip needs a mouse)."""
        if not self.ctx.preferences.loaded.is_locked(key):
            return
        for widget in widgets:
            widget.setEnabled(False)
            widget.setToolTip(LOCKED_TIP)
        note = muted(LOCKED_NOTE)
        note.setObjectName("lockedNote")
        note.setToolTip(LOCKED_TIP)
        self.locked_notes[key] = note
        self._place_after(widgets[0], note)

    def _place_after(self, widget: QWidget, note: QWidget) -> None:
        for layout in self.findChildren(QLayout):
            if isinstance(layout, QFormLayout):
                row, _role = layout.getWidgetPosition(widget)
                if row >= 0:
                    layout.insertRow(row + 1, "", note)
                    return
            elif isinstance(layout, QBoxLayout) and (index := layout.indexOf(widget)) >= 0:
                layout.insertWidget(index + 1, note)
                return
        raise AssertionError(f"{widget.objectName() or widget} is in none of the dialog's layouts")

    def _end_on_pause_changed(self) -> None:
        locked = self.ctx.preferences.loaded.is_locked("practice.silence_seconds")
        self.pause_seconds.setEnabled(self.end_on_pause.isChecked() and not locked)

    def _device_changed(self) -> None:
        if self.mic_test.running:
            self.mic_test.stop()
        self.mic_test.device = self.device.currentData()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a speech-to-text model folder")
        if folder:
            self.model_path.setText(folder)

    def _sign_out(self) -> None:
        self.sign_out_requested.emit()
        self.reject()


def _model_choices(current: str) -> list[str]:
    """The installed models (docs/benchmarks.md compares them), and the configured one."""
    from audio.models import installed_models

    names = installed_models()
    return names if current in names else [*names, current]


def _input_devices() -> list[Any]:
    from audio.capture import list_input_devices

    return list_input_devices()


def _field_bounds(name: str) -> tuple[float, float]:
    """A practice setting's allowed range, as app/config.py validates it (one place for both)."""
    low = high = None
    for rule in PracticeSettings.model_fields[name].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    assert low is not None and high is not None, f"practice.{name} has no bounds"
    return float(low), float(high)
