"""Running blocking work off the GUI thread, with progress, cancel, and results on the GUI thread.

One pattern for every screen (after Anki's `QueryOp`): build an `Operation` with the work,
chain `.success(...)` / `.failure(...)` / `.with_progress(...)`, then `.run(pool)`. The work runs
on a `QThreadPool` thread and receives a `Task` to report progress and to ask whether it was
cancelled; callbacks run on the GUI thread. Failures with no failure callback are shown to the
user in plain words (ui/errors.py), never as a traceback.

Never touch widgets inside the work function: it is not on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import structlog
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QWidget

from app.client.threads import lower_this_thread_priority
from ui import errors

log = structlog.get_logger(__name__)

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside work by `Task.check()` once the user has cancelled it."""


class Task:
    """What the work function gets: progress reporting and the cancel flag (thread-safe)."""

    def __init__(self, relay: _Relay) -> None:
        self._relay = relay
        self._cancel = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        for callback in list(self._on_cancel):
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Also call `callback` (from the cancelling thread) when cancelled, e.g. to stop a
        library call that has its own cancel switch."""
        self._on_cancel.append(callback)
        if self._cancel.is_set():
            callback()

    def check(self) -> None:
        """Raise Cancelled if the user cancelled; call between steps of long work."""
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, fraction: float, text: str = "") -> None:
        """Report progress in [0, 1]; a negative fraction means "busy, no estimate"."""
        self._relay.emit_safely(self._relay.progressed, float(fraction), text)


class ProgressSink(Protocol):
    """Where an operation shows its progress (the status bar implements it)."""

    def begin(self, label: str, cancel: Callable[[], None] | None) -> object: ...
    def update(self, token: object, fraction: float, text: str) -> None: ...
    def end(self, token: object) -> None: ...


class _Relay(QObject):
    """Lives on the GUI thread; the worker emits, Qt queues the call to the GUI thread.

    Its signals go to its own slots, which call the operation's Python callbacks: a queued
    connection from a pool thread straight to a Python callable (a lambda, a closure) gets a
    hidden receiver object from PySide, and deleting the relay with such receivers crashed the
    process now and then (in ~QObject, after a cancelled operation).
    """

    finished = Signal(object)
    failed = Signal(object)
    progressed = Signal(float, str)

    def __init__(self, parent: QObject | None) -> None:
        super().__init__(parent)
        self.on_finished: Callable[[Any], None] | None = None
        self.on_failed: Callable[[BaseException], None] | None = None
        self.on_progress: Callable[[float, str], None] | None = None
        self.finished.connect(self._finished)
        self.failed.connect(self._failed)
        self.progressed.connect(self._progressed)

    def emit_safely(self, signal: Any, *args: object) -> None:
        # The widget that owned the operation may be gone (window closed): drop the result.
        try:
            signal.emit(*args)
        except RuntimeError:
            log.info("operation result dropped: its owner was deleted")

    def forget(self) -> None:
        """Drop the callbacks (and what they hold) and delete this relay soon."""
        self.on_finished = self.on_failed = self.on_progress = None
        self.deleteLater()

    @Slot(object)
    def _finished(self, result: object) -> None:
        if self.on_finished is not None:
            self.on_finished(result)

    @Slot(object)
    def _failed(self, error: object) -> None:
        if self.on_failed is not None:
            self.on_failed(error)  # type: ignore[arg-type]

    @Slot(float, str)
    def _progressed(self, fraction: float, text: str) -> None:
        if self.on_progress is not None:
            self.on_progress(fraction, text)


class _Runnable(QRunnable):
    def __init__(self, work: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._work = work
        self._relay = relay

    def run(self) -> None:
        lower_this_thread_priority()
        try:
            result = self._work()
        except BaseException as error:  # delivered to the GUI thread, never lost
            self._relay.emit_safely(self._relay.failed, error)
        else:
            self._relay.emit_safely(self._relay.finished, result)


@dataclass
class Handle:
    """A started operation: cancel it, or ask whether it is still running."""

    task: Task
    running: bool = True
    outcome: dict[str, Any] = field(default_factory=dict)

    def cancel(self) -> None:
        self.task.cancel()


class Operation(Generic[T]):
    """Work to run in the background; `parent` owns the callbacks (dropped if it is deleted)."""

    def __init__(self, parent: QWidget | QObject | None, work: Callable[[Task], T]) -> None:
        self._parent = parent
        self._work = work
        self._on_success: Callable[[T], None] = lambda _result: None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._on_cancel: Callable[[], None] = lambda: None
        self._progress: tuple[ProgressSink, str, bool] | None = None

    def success(self, callback: Callable[[T], None]) -> Operation[T]:
        self._on_success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Operation[T]:
        self._on_failure = callback
        return self

    def cancelled(self, callback: Callable[[], None]) -> Operation[T]:
        self._on_cancel = callback
        return self

    def with_progress(
        self, sink: ProgressSink | None, label: str, *, cancellable: bool = False
    ) -> Operation[T]:
        if sink is not None:
            self._progress = (sink, label, cancellable)
        return self

    def run(self, pool: QThreadPool) -> Handle:
        relay = _Relay(self._parent if isinstance(self._parent, QObject) else None)
        task = Task(relay)
        handle = Handle(task)
        token = self._begin_progress(task)

        def done() -> None:
            handle.running = False
            if self._progress is not None:
                self._progress[0].end(token)
            relay.forget()

        def on_finished(result: T) -> None:
            done()
            handle.outcome["result"] = result
            self._on_success(result)

        def on_failed(error: BaseException) -> None:
            done()
            handle.outcome["error"] = error
            if isinstance(error, Cancelled) or errors.is_cancellation(error):
                self._on_cancel()
            elif self._on_failure is not None:
                self._on_failure(error)
            else:
                errors.show_error(self._parent_widget(), error)

        relay.on_finished = on_finished
        relay.on_failed = on_failed
        if self._progress is not None:
            sink = self._progress[0]
            relay.on_progress = lambda fraction, text: sink.update(token, fraction, text)
        # The runnable keeps the relay alive until it has emitted; the closure keeps `self`.
        pool.start(_Runnable(lambda: self._work(task), relay))
        return handle

    def _begin_progress(self, task: Task) -> object:
        if self._progress is None:
            return None
        sink, label, cancellable = self._progress
        return sink.begin(label, task.cancel if cancellable else None)

    def _parent_widget(self) -> QWidget | None:
        return self._parent if isinstance(self._parent, QWidget) else None


@dataclass
class Workers:
    """The app's thread pools: one for the server (serialised: token refreshes must not race,
    since a refresh token is single-use), one for CPU work such as transcription."""

    network: QThreadPool
    compute: QThreadPool

    @classmethod
    def create(cls) -> Workers:
        network = QThreadPool()
        network.setMaxThreadCount(1)
        compute = QThreadPool()
        compute.setMaxThreadCount(1)
        return cls(network, compute)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        for pool in (self.network, self.compute):
            pool.clear()
            pool.waitForDone(timeout_ms)
