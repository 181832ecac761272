"""Coachdesk desktop UI (PySide6 + qasync); a thin layer over app/, sync/ and audio/."""
