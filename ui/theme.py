"""Light and dark palettes that follow the system (QStyleHints.colorScheme), or a user choice.

Widgets and models ask `Theme` for semantic colours (overdue, own row, within range) instead of
hard-coding them, so both schemes stay readable. Fusion is used everywhere: it honours the
palette on every platform, which native styles do not always do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


class ThemeChoice(enum.StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


@dataclass(frozen=True)
class Colors:
    """Semantic colours for one scheme (contrast checked against its window/base colours)."""

    dark: bool
    window: str
    base: str
    alternate: str
    text: str
    muted: str
    accent: str
    overdue: str
    good: str
    warn: str
    bad: str
    highlight_row: str

    def q(self, name: str) -> QColor:
        return QColor(getattr(self, name))


LIGHT = Colors(
    dark=False,
    window="#f4f5f7",
    base="#ffffff",
    alternate="#f0f2f5",
    text="#1d232b",
    muted="#5b6675",
    accent="#2f6fdb",
    overdue="#b3261e",
    good="#1e7a3c",
    warn="#8a5a00",
    bad="#b3261e",
    highlight_row="#fff1c2",
)
DARK = Colors(
    dark=True,
    window="#1e2127",
    base="#262a31",
    alternate="#2c3139",
    text="#e8eaed",
    muted="#a3acb9",
    accent="#7aa7ff",
    overdue="#ff8a80",
    good="#7ddc9a",
    warn="#ffd27a",
    bad="#ff8a80",
    highlight_row="#4a4220",
)


def _palette(colors: Colors) -> QPalette:
    palette = QPalette()
    role = QPalette.ColorRole
    palette.setColor(role.Window, QColor(colors.window))
    palette.setColor(role.WindowText, QColor(colors.text))
    palette.setColor(role.Base, QColor(colors.base))
    palette.setColor(role.AlternateBase, QColor(colors.alternate))
    palette.setColor(role.Text, QColor(colors.text))
    palette.setColor(role.Button, QColor(colors.alternate))
    palette.setColor(role.ButtonText, QColor(colors.text))
    palette.setColor(role.ToolTipBase, QColor(colors.base))
    palette.setColor(role.ToolTipText, QColor(colors.text))
    palette.setColor(role.PlaceholderText, QColor(colors.muted))
    palette.setColor(role.Highlight, QColor(colors.accent))
    palette.setColor(role.HighlightedText, QColor(colors.base if colors.dark else "#ffffff"))
    palette.setColor(role.Link, QColor(colors.accent))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(disabled, r, QColor(colors.muted))
    return palette


class Theme(QObject):
    """The app's current colours; emits `changed` when the system or the user switches scheme."""

    changed = Signal()

    def __init__(self, app: QApplication, choice: ThemeChoice = ThemeChoice.SYSTEM) -> None:
        super().__init__(app)
        self._app = app
        self._choice = choice
        self.colors = LIGHT
        app.setStyle("Fusion")
        hints = app.styleHints()
        self._system_scheme = hints.colorScheme()
        hints.colorSchemeChanged.connect(self._system_changed)
        self.apply()

    @property
    def choice(self) -> ThemeChoice:
        return self._choice

    def set_choice(self, choice: ThemeChoice) -> None:
        self._choice = choice
        self.apply()

    def system_is_dark(self) -> bool:
        return self._system_scheme == Qt.ColorScheme.Dark

    def _system_changed(self, scheme: Qt.ColorScheme) -> None:
        # The scheme the signal carries: some platforms report it before colorScheme() changes.
        self._system_scheme = scheme
        self.apply()

    def apply(self) -> None:
        dark = (
            self.system_is_dark()
            if self._choice is ThemeChoice.SYSTEM
            else self._choice is ThemeChoice.DARK
        )
        self.colors = DARK if dark else LIGHT
        self._app.setPalette(_palette(self.colors))
        self._app.setStyleSheet(_stylesheet(self.colors))
        self.changed.emit()


def _stylesheet(c: Colors) -> str:
    # Only what a palette cannot say: card frames, headings, the primary action's button.
    return f"""
    QFrame#card {{ background: {c.base}; border: 1px solid {c.alternate}; border-radius: 8px; }}
    QLabel#heading {{ font-size: 16pt; font-weight: 600; }}
    QLabel#subheading {{ font-size: 12pt; font-weight: 600; }}
    QLabel#muted {{ color: {c.muted}; }}
    QLabel#personaLine {{ font-size: 15pt; }}
    QLabel#bigNumber {{ font-size: 20pt; font-weight: 600; }}
    QPushButton#primary {{ background: {c.accent}; color: {c.base if c.dark else "#ffffff"};
                           padding: 6px 14px; border-radius: 4px; font-weight: 600; }}
    QPushButton#primary:disabled {{ background: {c.alternate}; color: {c.muted}; }}
    """
