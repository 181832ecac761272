"""Signals can be emitted indefinitely (PySide6 6.12.0 drops a reference to True per emit)."""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, Signal

import ui  # noqa: F401 - importing ui installs the workaround


class Emitter(QObject):
    level = Signal(float, float)
    result = Signal(object)


def test_many_emits_keep_every_reference(qtbot):
    emitter = Emitter()
    received: list[object] = []
    emitter.level.connect(lambda rms, peak: received.append(rms))
    emitter.result.connect(received.append)
    before = sys.getrefcount(True)

    def from_a_worker() -> None:
        for _ in range(5000):
            emitter.result.emit(None)

    worker = threading.Thread(target=from_a_worker)
    worker.start()
    for _ in range(5000):  # a level meter's hour of updates would crash an unpatched 6.12.0
        emitter.level.emit(-20.0, -6.0)
    worker.join()
    qtbot.waitUntil(lambda: len(received) == 10_000)
    received.clear()
    assert abs(sys.getrefcount(True) - before) < 100
