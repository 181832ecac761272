"""Transcription in a separate, lower-priority process, so the GUI never waits for it.

faster-whisper runs parts of each transcription in Python and numpy holding the interpreter
lock, and its native threads take every core: in the GUI's own process that stalled the event
loop by ~100 ms (bench/bench_ui.py). In a child process at a lower scheduling priority the GUI
keeps its interpreter and gets the CPU first. Buzz runs its transcriber the same way.

`ProcessTranscriber` is a drop-in `TranscriberLike` for app.practice: the same `load()` and
`transcribe(audio, progress=, cancelled=)`, the same errors (AudioError subclasses, with
TranscriptionCancelled for a cancel). The model is loaded once, in the child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from audio.decode import load_audio
from audio.errors import AudioError, TranscriptionCancelled
from audio.transcribe import TranscriberSettings, Utterance

log = structlog.get_logger(__name__)

CHILD_NICENESS = 10
_CANCEL_POLL_S = 0.05


def _serve(settings: TranscriberSettings, pipe: Connection, cancel: Any) -> None:
    """The child: load the model on request, transcribe, report progress; until the pipe closes."""
    from audio.transcribe import Transcriber

    # Where raising niceness is refused, run at normal priority: still outside the GUI's lock.
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICENESS)
    transcriber = Transcriber(settings)
    while True:
        try:
            request = pipe.recv()
        except EOFError:
            return
        try:
            if request[0] == "load":
                transcriber.load()
                pipe.send(("done", None))
            elif request[0] == "transcribe":
                utterance = transcriber.transcribe(
                    request[1],
                    progress=lambda fraction: pipe.send(("progress", fraction)),
                    cancelled=cancel.is_set,
                    vocabulary=request[2],
                )
                pipe.send(("done", utterance))
        except AudioError as error:
            pipe.send(("error", type(error).__name__, str(error)))
        except Exception as error:  # reported, not fatal: the next request may succeed
            pipe.send(("error", type(error).__name__, f"{type(error).__name__}: {error}"))


class ProcessTranscriber:
    """A Transcriber whose work happens in a child process; one request at a time."""

    def __init__(self, settings: TranscriberSettings | None = None) -> None:
        self.settings = settings or TranscriberSettings()
        self._context = multiprocessing.get_context("spawn")  # never fork a Qt process
        self._cancel = self._context.Event()
        self._lock = threading.Lock()
        self._process: Any = None
        self._pipe: Connection | None = None

    def load(self) -> None:
        with self._lock:
            self._request(("load",), None, None)

    def transcribe(
        self,
        audio: Path | np.ndarray,
        *,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        vocabulary: Sequence[str] = (),
    ) -> Utterance:
        samples = load_audio(Path(audio)) if isinstance(audio, str | Path) else np.asarray(audio)
        with self._lock:
            self._cancel.clear()
            request = ("transcribe", samples, tuple(vocabulary))
            result = self._request(request, progress, cancelled)
        assert isinstance(result, Utterance)
        return result

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _request(
        self,
        request: tuple[Any, ...],
        progress: Callable[[float], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> object:
        pipe = self._ensure_child()
        try:
            pipe.send(request)
            while True:
                if not pipe.poll(_CANCEL_POLL_S):
                    if cancelled is not None and cancelled():
                        self._cancel.set()
                    if not self._process.is_alive():
                        raise EOFError
                    continue
                message = pipe.recv()
                if message[0] == "progress":
                    if progress is not None:
                        progress(message[1])
                elif message[0] == "done":
                    return message[1]
                else:
                    raise _error(message[1], message[2])
        except (EOFError, BrokenPipeError, ConnectionResetError) as error:
            self._stop()
            raise AudioError(
                "The transcription process stopped unexpectedly. Your recording is kept and can "
                "be transcribed again."
            ) from error

    def _ensure_child(self) -> Connection:
        if self._process is None or not self._process.is_alive():
            self._stop()
            parent, child = self._context.Pipe()
            self._process = self._context.Process(
                target=_serve,
                args=(self.settings, child, self._cancel),
                name="coachdesk-transcriber",
                daemon=True,
            )
            self._process.start()
            child.close()
            self._pipe = parent
            log.info("transcriber process started", pid=self._process.pid)
        assert self._pipe is not None
        return self._pipe

    def _stop(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None


def _error(name: str, message: str) -> AudioError:
    """The child's error as the same kind the in-process Transcriber raises."""
    if name == "TranscriptionCancelled":
        return TranscriptionCancelled()
    import audio.errors as errors

    kind = getattr(errors, name, None)
    if isinstance(kind, type) and issubclass(kind, AudioError):
        error = AudioError.__new__(kind)
        AudioError.__init__(error, message)
        return error
    return AudioError(f"Transcription failed: {message}")
