"""Coachdesk desktop UI (PySide6 + qasync); a thin layer over app/, sync/ and audio/."""

from ui import qt_compat

# Before any widget exists: every screen emits signals (see ui/qt_compat.py for why).
qt_compat.install()
