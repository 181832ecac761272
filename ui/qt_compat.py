"""Workarounds for defects in the PySide6 release in use, each probed at run time.

PySide6 6.12.0: `SignalInstance.emit()` returns True without taking a reference to it, so every
emit from Python drops one reference to `True`; after a few thousand emits (a level meter sends
twenty a second) CPython aborts with "bool_dealloc: deallocating True or False". 6.11.3 does
not have the defect. `install()` checks the running PySide6 and, only if emit really drops the
reference, wraps emit to give the reference back; on a fixed release it changes nothing.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 16
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class _Probe(QObject):
    ping = Signal()


def install() -> bool:
    """Wrap SignalInstance.emit if this PySide6 drops references; True if it had to."""
    if getattr(SignalInstance.emit, "_coachdesk_keeps_reference", False):
        return True
    if not emit_drops_a_reference():
        return False
    original = SignalInstance.emit

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        _incref(result)
        return result

    emit._coachdesk_keeps_reference = True  # type: ignore[attr-defined]
    SignalInstance.emit = emit  # type: ignore[method-assign]
    return True


def emit_drops_a_reference() -> bool:
    """Emit a few times and count the references to True that went missing (then repair)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    for _ in range(max(lost, 0)):
        _incref(True)  # give back what the probe took
    return lost >= _PROBES
