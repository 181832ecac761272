"""Coachdesk desktop UI (PySide6 + qasync); a thin layer over app/, sync/ and audio/."""

# Before any widget exists: every screen emits signals (see ui/qt_compat.py for why).
from ui import qt_compat  # noqa: F401
