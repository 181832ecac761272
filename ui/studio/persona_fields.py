"""The scenario editor's persona voice and picture: the voices on this computer in a list with
"Hear it", and the persona's picture with Choose / Remove.

Rendering and dispatch only: the voices are audio/voices.py's (listed by ui/voice.py without
blocking: espeak-ng in its own process), the picture is app/client/avatars.py's (checked, then
uploaded off the GUI thread through ctx.call).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.avatars import AvatarService, Picture, avatar_name
from app.client.views import Scenario
from audio.voices import Voice, VoiceChoice, choice_index, voice_choices
from ui.context import AppContext
from ui.errors import plain_message
from ui.voice import PersonaVoice
from ui.widgets.avatar import Avatar

PICTURES = "Pictures (*.png *.jpg *.jpeg)"
HEAR = "&Hear it"
STOP = "Stop"  # every letter of it is the form's already


class VoicePicker(QWidget):
    """The persona's voice: a list of this computer's voices (the stored one kept, marked
    "(not on this computer)" when it is not here) and "Hear it", which says `sample()` in the
    chosen voice through the same PersonaVoice a call uses, without waiting for it."""

    changed = Signal()  # the person chose another voice (not the list being filled)

    def __init__(
        self,
        stored: str | None,
        sample: Callable[[], str],
        *,
        voice: PersonaVoice | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sample = sample
        self.voice = voice if voice is not None else PersonaVoice(self)
        self.voices: list[Voice] = []
        self.listed = False
        self.speaking = False
        self.combo = QComboBox()
        self.combo.setObjectName("voicePicker")
        self.combo.setAccessibleName("Persona's voice")
        self.hear_button = QPushButton(HEAR)
        self.hear_button.setToolTip("Say the persona's first line in this voice")
        self.notice = QLabel()
        self.notice.setObjectName("voicePickerNotice")
        self.notice.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.hear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.notice)
        self.setFocusProxy(self.combo)  # the form's "Voice" label focuses the list
        self._fill(stored)
        self._say_problem(self.voice.problem)
        self.hear_button.setEnabled(self.voice.available)
        self.hear_button.clicked.connect(self.hear)
        self.combo.activated.connect(lambda _index: self.changed.emit())
        self.voice.finished.connect(self._said)
        self.voice.failed.connect(self._say_problem)
        self.voice.list_voices(self._listed)

    @property
    def value(self) -> str | None:
        """What the persona's `voice` field is to hold (None: the default voice)."""
        return self.combo.currentData()

    def hear(self) -> None:
        """Say the sample line in the chosen voice, or stop it if it is being said."""
        if self.speaking:
            self.voice.stop()
            return
        self._say_problem(None)
        if self.voice.say(self._sample(), self.value):
            self.speaking = True
            self.hear_button.setText(STOP)

    def stop(self) -> None:
        if self.speaking:
            self.voice.stop()

    def _listed(self, voices: list[Voice]) -> None:
        keep = self.value
        self.voices = voices
        self.listed = True
        self._fill(keep)

    def _fill(self, keep: str | None) -> None:
        if self.listed:
            choices = voice_choices(self.voices, keep)
        else:  # until the engine answers: the stored voice, unjudged
            choices = voice_choices([Voice(keep, keep, keep)] if keep else [], keep)
        self.combo.clear()
        for choice in choices:
            self.combo.addItem(choice.label, choice.value)
            if not choice.here:
                self.combo.setItemData(
                    self.combo.count() - 1, _not_here_tip(choice), Qt.ItemDataRole.ToolTipRole
                )
        self.combo.setCurrentIndex(choice_index(choices, keep))

    def _said(self) -> None:
        self.speaking = False
        self.hear_button.setText(HEAR)

    def _say_problem(self, text: str | None) -> None:
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))


def _not_here_tip(choice: VoiceChoice) -> str:
    return f"This computer has no voice {choice.value}: it speaks with its default voice."


class AvatarPicker(QWidget):
    """The persona's picture, shown as the screens show it; Choose uploads it at once (so a
    trainee can see it once the draft is saved and published), Remove goes back to initials.
    `changed` when the persona's `avatar` field is to change; `file_name` is its value."""

    changed = Signal()

    def __init__(
        self,
        ctx: AppContext,
        scenario: Scenario,
        name: Callable[[], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.scenario = scenario
        self._name = name
        self.service = AvatarService(ctx.backend)
        self.file_name = avatar_name(scenario)
        self.picture: bytes | None = None
        self.avatar = Avatar(64)
        self.choose_button = QPushButton("Choose pict&ure…")
        self.remove_button = QPushButton("Remove picture")
        self.message = QLabel()
        self.message.setObjectName("avatarMessage")
        self.message.setWordWrap(True)
        buttons = QVBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.avatar, alignment=Qt.AlignmentFlag.AlignTop)
        row.addLayout(buttons)
        row.addWidget(self.message, 1)
        self.setFocusProxy(self.choose_button)
        self.choose_button.clicked.connect(lambda: self.choose())
        self.remove_button.clicked.connect(self.remove)
        self.refresh()
        if self.file_name is not None:
            self.ctx.call(
                self, lambda: self.service.image(scenario), self._fetched, on_failure=self._unseen
            )

    def refresh(self) -> None:
        """Show the picture (or the initials of the persona's name as edited now)."""
        self.avatar.set_person(self._name(), self.picture)
        self.remove_button.setEnabled(self.file_name is not None)

    def choose(self, path: Path | None = None) -> None:
        """Check and upload a picture (asked for when `path` is None)."""
        if path is None:
            chosen, _filter = QFileDialog.getOpenFileName(
                self, "The persona's picture", "", PICTURES
            )
            if not chosen:
                return
            path = Path(chosen)
        picked = path
        self.choose_button.setEnabled(False)
        self.message.setText(f"Uploading {picked.name}…")

        def upload() -> Picture:
            picture = self.service.upload(self.scenario, picked)
            self._prune({picture.name})
            return picture

        self.ctx.call(
            self, upload, lambda picture: self._chosen(picked, picture), on_failure=self._refused
        )

    def remove(self) -> None:
        self.file_name = None
        self.picture = None
        self.refresh()
        self.message.setText("The persona shows initials; save the draft to keep it so.")
        self.changed.emit()
        self.ctx.call(self, lambda: self._prune(set()), lambda _n: None, on_failure=self._refused)

    def _prune(self, keep: set[str]) -> int:
        """Files of pictures chosen and then replaced in this editor go (on the worker); the
        picture the draft was opened with stays until a save has moved past it."""
        opened = avatar_name(self.scenario)
        return self.service.prune(self.scenario, keep | ({opened} if opened else set()))

    def _chosen(self, path: Path, picture: Picture) -> None:
        self.choose_button.setEnabled(True)
        self.file_name = picture.name
        self.picture = picture.data
        self.refresh()
        self.message.setText(f"{path.name} is the persona's picture; save the draft to keep it.")
        self.changed.emit()

    def _refused(self, error: BaseException) -> None:
        self.choose_button.setEnabled(True)
        self.message.setText(plain_message(error))

    def _fetched(self, data: bytes | None) -> None:
        if self.picture is None and self.file_name == avatar_name(self.scenario):
            self.picture = data
            self.refresh()

    def _unseen(self, error: BaseException) -> None:
        self.message.setText(f"The picture cannot be shown now: {plain_message(error)}")
