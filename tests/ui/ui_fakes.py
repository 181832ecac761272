"""Stand-ins at the boundary only: a speaker nobody listens to, speakers that keep what they
were given to play, and an in-memory OS keyring.
(The "microphone" that plays WAV files is app.client.demo.FileMicrophone, shared with the
benchmark.)
Everything behind them (Recorder, Player, transcription, sync) is real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from audio.playback import Player


class SilentOutputStream:
    """An OutputStream that accepts start/stop and never pulls audio (no speakers in CI)."""

    def __init__(self, *, finished_callback: Callable[[], None], **_options: Any) -> None:
        self.finished_callback = finished_callback
        self.active = False

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        if self.active:
            self.active = False
            self.finished_callback()

    def close(self) -> None:
        pass


BLOCK = 1024


class RecordingSpeakers:
    """Output streams at the device boundary that keep every block they are handed."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.opened = 0

    def stream(
        self, *, callback: Callable[..., None], finished_callback: Callable[[], None], **_: Any
    ):
        self.opened += 1
        return _DrainingStream(self, callback, finished_callback)

    def heard(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    def player(self, path: Path, on_finished: Callable[[], None]) -> Player:
        return Player(path, on_finished=on_finished, stream_factory=self.stream)


class _DrainingStream:
    def __init__(self, speakers: RecordingSpeakers, callback, finished_callback) -> None:
        self._speakers, self._callback, self._finished = speakers, callback, finished_callback
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _drain(self) -> None:
        while True:
            out = np.zeros((BLOCK, 1), np.float32)
            try:
                self._callback(out, BLOCK, None, None)
            except sounddevice.CallbackStop:
                self._speakers.blocks.append(out[:, 0].copy())
                break
            self._speakers.blocks.append(out[:, 0].copy())
        self._finished()


class MemoryKeyring(KeyringBackend):
    """The OS keyring stand-in: a dict (the real keyring is the user's, never touched by tests)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not stored")
