"""Workaround for a reference-counting defect of PySide6 6.12.0 on Python 3.11, probed at run time.

PySide6 6.12.0 returns `None` from every void Qt method, and the bool from `Signal.emit()`,
without taking a reference to it. On Python 3.12+ that is harmless (None, True and False are
immortal, PEP 683), but on 3.11 each call drops one reference, and after a few thousand calls
CPython aborts with "none_dealloc: deallocating None" (or "bool_dealloc"): a running app dies
within seconds, a level meter alone makes twenty such calls a second. 6.11.3 has no such defect.

The fix belongs in pyproject.toml (exclude 6.12.0). Until then `install()` measures the
running PySide6 and, only on Python < 3.12 and only if references really go missing, gives the
three singletons the same treatment 3.12 gives them: a reference count so large that no number
of missing references can bring it to zero. On a correct PySide6, or a newer Python, it does
nothing.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, QTimer, Signal

_PROBES = 16
# Far more references than any process will ever drop, far below Py_ssize_t's limit.
_PINNED = 1 << 40
_SINGLETONS = (None, True, False)


class _Probe(QObject):
    ping = Signal()


def drops_references() -> bool:
    """Make a few void calls and emits, and count the references to None/True that vanished."""
    timer, probe = QTimer(), _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(_PROBES):
        timer.stop()
    emitted = [probe.ping.emit() for _ in range(_PROBES)]
    # `emitted` holds one reference per emit: a correct emit leaves every one of them counted.
    lost = (none_before - sys.getrefcount(None)) + (
        true_before + emitted.count(True) - sys.getrefcount(True)
    )
    # The defect loses one per call; correct bindings lose none (give or take a temporary).
    return lost > _PROBES


def _refcount(obj: object) -> ctypes.c_ssize_t:
    # ob_refcnt is the first field of every object in CPython's (non-debug) object layout.
    return ctypes.c_ssize_t.from_address(id(obj))


def install() -> bool:
    """Protect None/True/False if this PySide6 drops references to them; True if it had to."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > _PINNED // 2:
        return True  # already done in this process
    if not drops_references():
        return False
    for singleton in _SINGLETONS:
        _refcount(singleton).value += _PINNED
    return True


# On import: ui/errors.py (which every screen imports) and ui/__init__.py import this module,
# so the fix is in place before the first widget exists, however ui/ was imported.
install()
