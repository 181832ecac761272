"""The app survives PySide6 6.12.0's lost references on Python 3.11 (see ui/qt_compat.py)."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QTimer, Signal

from ui import qt_compat


class Emitter(QObject):
    level = Signal(float, float)
    result = Signal(object)


def test_an_hour_of_meter_updates_and_void_calls_does_not_abort_the_interpreter(qtbot):
    # Unprotected, 6.12.0 on 3.11 aborts after a few thousand of these: far fewer than here.
    emitter = Emitter()
    received: list[object] = []
    emitter.level.connect(lambda rms, peak: received.append(rms))
    emitter.result.connect(received.append)
    timer = QTimer()

    def from_a_worker() -> None:
        for _ in range(36_000):
            emitter.result.emit(None)

    worker = threading.Thread(target=from_a_worker)
    worker.start()
    for _ in range(36_000):  # twenty level updates a second for half an hour, twice over
        emitter.level.emit(-20.0, -6.0)
        timer.stop()
    worker.join()
    qtbot.waitUntil(lambda: len(received) == 72_000, timeout=30_000)
    received.clear()
    # Protected here, or these bindings lose no references to protect against.
    assert qt_compat.install() or not qt_compat.drops_references()
