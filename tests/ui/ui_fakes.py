"""Stand-ins at the hardware boundary only: a "microphone" that plays WAV files and a speaker
that nobody listens to. Everything behind them (Recorder, Player, transcription) is real.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from audio.capture import Level, Recorder
from audio.decode import load_audio


class SpeechInputStream:
    """An InputStream that delivers `samples` as fast as it can, then digital silence in real
    time (like an open microphone in a quiet room) until stopped."""

    def __init__(
        self,
        samples: np.ndarray,
        *,
        blocksize: int,
        callback: Callable[..., None],
        finished_callback: Callable[[], None],
        **_options: Any,
    ) -> None:
        self.samples = samples
        self.blocksize = blocksize
        self.callback = callback
        self.finished_callback = finished_callback
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.finished_callback()

    def close(self) -> None:
        pass

    def _deliver(self, block: np.ndarray) -> None:
        self.callback(block.reshape(-1, 1), len(block), None, sounddevice.CallbackFlags())

    def _run(self) -> None:
        for start in range(0, len(self.samples), self.blocksize):
            if self._stop.is_set():
                return
            self._deliver(self.samples[start : start + self.blocksize])
        silence = np.zeros(self.blocksize, dtype=np.int16)
        while not self._stop.wait(self.blocksize / 16000):
            self._deliver(silence)


class ScriptedMicrophone:
    """A RecorderFactory: each new recording "hears" the next WAV of the script."""

    def __init__(self, answers: Iterable[Path]) -> None:
        self.answers = deque(Path(a) for a in answers)
        self.recorders: list[Recorder] = []

    def __call__(self, root: Path, name: str, on_level: Callable[[Level], None]) -> Recorder:
        if not self.answers:
            raise AssertionError("the practice asked for more answers than the script has")
        samples = (load_audio(self.answers.popleft()) * 32767).astype(np.int16)

        def open_stream(**kwargs: Any) -> SpeechInputStream:
            return SpeechInputStream(samples, **kwargs)

        recorder = Recorder(root, name, on_level=on_level, stream_factory=open_stream)
        self.recorders.append(recorder)
        return recorder


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
