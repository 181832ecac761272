"""Stand-ins at the boundary only: a speaker nobody listens to and an in-memory OS keyring.
(The "microphone" that plays WAV files is app.client.demo.FileMicrophone, shared with the
benchmark.)
Everything behind them (Recorder, Player, transcription, sync) is real.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


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
