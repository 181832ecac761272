"""Workarounds for defects in the PySide6 release in use, each probed at run time.

PySide6 6.12.0: `SignalInstance.emit()` returns its bool result without taking a reference
to it, so every emit from Python drops one reference to `True`; after a few thousand emits (a
level meter sends twenty a second) CPython aborts with "bool_dealloc: deallocating True or
False". 6.11.3 does not have the defect. `install()` checks the running PySide6 and, only if
emit really drops the reference, wraps emit to give the reference back; on a fixed release it
changes nothing. Remove this module once pyproject.toml excludes 6.12.0.
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
    """Emit a few times and count the references that went missing (then give them back)."""
    probe = _Probe()
    true_before, false_before = sys.getrefcount(True), sys.getrefcount(False)
    results = [probe.ping.emit() for _ in range(_PROBES)]
    trues = sum(1 for result in results if result is True)
    # `results` holds one reference per emit: a correct emit leaves every one of them counted.
    lost_true = true_before + trues - sys.getrefcount(True)
    lost_false = false_before + (len(results) - trues) - sys.getrefcount(False)
    for flag, lost in ((True, lost_true), (False, lost_false)):
        for _ in range(max(lost, 0)):
            _incref(flag)
    # The defect loses one per emit; a correct emit loses none (give or take a temporary).
    return lost_true + lost_false > _PROBES // 2


# On import: ui/errors.py (which every screen imports) and ui/__init__.py import this module,
# so the fix is in place before the first widget exists, however ui/ was imported.
install()
