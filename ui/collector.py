"""Python's cyclic garbage collection, run on the GUI thread between operations only.

With automatic collection on, a cycle can be collected on whatever thread happens to allocate
when the threshold is crossed, and in the middle of whatever runs there: a worker thread may
then finalise Qt objects of the GUI thread, or the GUI thread may finalise an operation's objects
while a worker still uses them (seen: segfaults while collecting on the GUI thread during a sync
round). So, as Anki does, automatic collection is off while the app runs and a timer on the GUI
thread collects when no operation is in flight. Reference counting still frees everything that
is not in a cycle at once; only cycles wait, at most a few seconds.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import structlog
from PySide6.QtCore import QObject, QTimer

log = structlog.get_logger(__name__)

INTERVAL_MS = 5_000


class IdleCollector(QObject):
    def __init__(
        self,
        busy: Callable[[], bool],
        interval_ms: int = INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._busy = busy
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_idle)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def collect_if_idle(self) -> bool:
        """Collect now unless an operation is in flight; whether it collected."""
        if self._busy():
            return False
        found = gc.collect()
        if found:
            log.debug("garbage collected", objects=found)
        return True

    def stop(self) -> None:
        """Collect once more (nothing may be in flight) and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
