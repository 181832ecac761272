"""What every screen is given: the backend, the worker pools, the theme and the settings.

Passed down explicitly (no module-level singletons), so a test builds one with a real backend
against the local stack and tears it down afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.client.views import Backend, Changes
from ui.collector import IdleCollector
from ui.preferences import Preferences
from ui.theme import Theme
from ui.workers import Handle, Operation, ProgressSink, Task, Workers

T = TypeVar("T")


class ChangeFeed(QObject):
    """What the backend changed, on the GUI thread: each screen connects to `changed` and
    decides itself whether what it shows needs reading again (the backend reports on its owner
    thread; Qt queues the signal to the GUI thread)."""

    changed = Signal(Changes)


@dataclass
class AppContext:
    backend: Backend
    workers: Workers
    theme: Theme
    preferences: Preferences
    progress: ProgressSink | None = None  # the status bar, once the main window exists
    running: list[Handle] = field(default_factory=list)
    changes: ChangeFeed = field(init=False)
    collector: IdleCollector = field(init=False)

    def __post_init__(self) -> None:
        self.changes = ChangeFeed()
        self.backend.subscribe_changes(self.changes.changed.emit)
        self.collector = IdleCollector(lambda: self.busy)

    def close(self) -> None:
        """The app (or a test) is done with this context: cyclic garbage collection goes back
        to Python (ui/collector.py). Call after the workers have finished."""
        self.collector.stop()

    def call(
        self,
        owner: QObject,
        work: Callable[[], T],
        on_success: Callable[[T], None],
        *,
        label: str | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> Handle:
        """Run a backend call on the network thread; `on_success` gets its result on the GUI."""
        return self.start(
            Operation(owner, lambda _task: work()), on_success, label=label, on_failure=on_failure
        )

    def compute(
        self,
        owner: QObject,
        work: Callable[[Task], T],
        on_success: Callable[[T], None],
        *,
        label: str,
        cancellable: bool = True,
        on_failure: Callable[[BaseException], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> Handle:
        """Run CPU work (transcription) on the compute thread, with progress and Cancel."""
        op = Operation(owner, work).with_progress(self.progress, label, cancellable=cancellable)
        if on_cancel is not None:
            op.cancelled(on_cancel)
        return self.start(op, on_success, on_failure=on_failure, pool=self.workers.compute)

    def start(
        self,
        op: Operation[Any],
        on_success: Callable[[Any], None],
        *,
        label: str | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        pool: Any = None,
    ) -> Handle:
        op.success(on_success)
        if on_failure is not None:
            op.failure(on_failure)
        if label is not None:
            op.with_progress(self.progress, label)
        handle = op.run(pool or self.workers.network)
        # Finished handles are dropped lazily; the list only serves "is anything running?".
        self.running = [h for h in self.running if h.running] + [handle]
        return handle

    @property
    def busy(self) -> bool:
        return any(h.running for h in self.running)
