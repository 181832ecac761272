"""Play/pause, a position slider and the time, over an audio.playback.Player.

The Player pulls audio on PortAudio's thread; this bar polls its position on a timer (cheap:
one locked read) and reports it by `position_changed`, which the review screen uses to follow
the transcript. Opening a player decodes the file, so it happens on the compute thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from app.client.formatting import clock
from ui.errors import show_error

POLL_MS = 100


class PlayerLike(Protocol):
    """What the bar uses of audio.playback.Player."""

    @property
    def duration(self) -> float: ...
    @property
    def position(self) -> float: ...
    @property
    def playing(self) -> bool: ...
    def play(self) -> None: ...
    def pause(self) -> None: ...
    def seek(self, seconds: float) -> None: ...
    def close(self) -> None: ...


PlayerFactory = Callable[[Path], PlayerLike]


def default_player(path: Path) -> PlayerLike:
    from audio.playback import Player

    return Player(path)


class PlaybackBar(QWidget):
    position_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player: PlayerLike | None = None
        self._length: float | None = None
        self.play_button = QPushButton("Play")
        self.play_button.setAccessibleName("Play or pause the recording")
        self.play_button.setToolTip("Play or pause (Ctrl+Space)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Position in the recording")
        self.time = QLabel("–")
        self.status = QLabel("Loading the recording…")
        self.status.setObjectName("muted")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.time)
        layout.addWidget(self.status)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.play_button.clicked.connect(self.toggle)
        self.slider.sliderReleased.connect(lambda: self.seek(self.slider.value() / 1000))
        self.set_player(None, "Loading the recording…")

    def set_player(
        self, player: PlayerLike | None, status: str = "", *, length: float | None = None
    ) -> None:
        """Play `player` (None: nothing to play, `status` says why; Play stays disabled).
        `length`: the call's length to show as the total (the review shows one call length
        everywhere); the recording's own duration when not given."""
        self.close_player()
        self.player = player
        self._length = length
        enabled = player is not None
        for widget in (self.play_button, self.slider):
            widget.setEnabled(enabled)
        self.slider.setRange(0, int(player.duration * 1000) if player else 0)
        self.status.setText(status)
        self.status.setVisible(bool(status))
        self._show_position(0.0)

    def note(self, text: str) -> None:
        """A line beside the controls (what just happened), the player staying as it is."""
        self.status.setText(text)
        self.status.setVisible(bool(text))

    @property
    def total_seconds(self) -> float:
        if self.player is None:
            return 0.0
        return self._length if self._length is not None else self.player.duration

    def toggle(self) -> None:
        if self.player is None:
            return
        if self.player.playing:
            self.player.pause()
        else:
            self._play()
        self._sync_button()

    def seek(self, seconds: float, *, play: bool = False) -> None:
        if self.player is None:
            return
        self.player.seek(seconds)
        self._show_position(self.player.position)
        if play and not self.player.playing:
            self._play()
        self._sync_button()

    def close_player(self) -> None:
        self._timer.stop()
        if self.player is not None:
            self.player.close()
            self.player = None

    def _play(self) -> None:
        assert self.player is not None
        try:
            self.player.play()
        except Exception as error:  # NoOutputDeviceError and friends: say so, keep the screen
            show_error(self, error)
            return
        self._timer.start()

    def _poll(self) -> None:
        if self.player is None:
            self._timer.stop()
            return
        self._show_position(self.player.position)
        if not self.player.playing:
            self._timer.stop()
            self._sync_button()

    def _show_position(self, seconds: float) -> None:
        total = self.total_seconds
        if not self.slider.isSliderDown():
            self.slider.setValue(int(seconds * 1000))
        self.time.setText(f"{clock(seconds)} / {clock(total)}" if self.player else "–")
        self.position_changed.emit(seconds)

    def _sync_button(self) -> None:
        playing = self.player is not None and self.player.playing
        self.play_button.setText("Pause" if playing else "Play")
