"""Stop the app cleanly when the system asks (SIGTERM at log-out or shutdown, Ctrl+C in a terminal).

Python's own handlers only run when the interpreter gets control, which it does not while Qt's
event loop waits, and the default SIGTERM action ends the process on the spot: `coachdesk run`
then never reaches the code that stops the local stack it started. Here the signal is written
to a socket that the event loop watches and `stop_requested` is emitted; the app then ends its
loop as if the window had been closed (no questions asked: a call in progress is journaled and
offered for recovery at the next start).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterable

import structlog
from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier, Signal

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class TerminationWatch(QObject):
    """While it lives, each listed signal emits `stop_requested` (its number) on the GUI thread."""

    stop_requested = Signal(int)

    def __init__(self, app: QCoreApplication, signals: Iterable[int] = STOP_SIGNALS) -> None:
        super().__init__(app)
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous = {number: signal.signal(number, self._noted) for number in signals}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._stop)

    def _noted(self, number: int, _frame: object) -> None:
        # Runs in Python once the wakeup byte woke the loop; the byte itself says which signal.
        pass

    def _stop(self) -> None:
        try:
            data = self._reader.recv(16)
        except BlockingIOError:
            return
        if not data:
            return
        number = data[-1]
        log.info("app.stop_requested", signal=signal.Signals(number).name)
        self.stop_requested.emit(number)

    def close(self) -> None:
        """Give the signals back to whoever had them (tests create several apps' worth)."""
        self._notifier.setEnabled(False)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()
