"""A person's avatar: their initials on a disc whose colour follows from the name, so one
persona looks the same on every screen and two personas of a scenario list look different."""

from __future__ import annotations

import zlib

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

# Mid-tone discs that white initials read on (contrast ≥ 4.5:1), in light and dark themes.
DISC_COLORS = ("#2f6fdb", "#1e7a3c", "#8a5a00", "#b3261e", "#6a3fb5", "#00707a", "#a3326d")


def initials(name: str) -> str:
    """ "Dana Whitfield" -> "DW", "Lena" -> "L", "" -> "?"."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def disc_color(name: str) -> str:
    return DISC_COLORS[zlib.crc32(name.strip().lower().encode()) % len(DISC_COLORS)]


class Avatar(QLabel):
    def __init__(self, size: int = 48, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self.setObjectName("avatar")
        self.setFixedSize(size, size)
        self.initials = ""
        self.set_person("")

    def set_person(self, name: str) -> None:
        self.initials = initials(name)
        self.setAccessibleName(f"Avatar of {name}" if name else "Avatar")
        ratio = self.devicePixelRatioF() or 1.0
        pixmap = QPixmap(round(self._size * ratio), round(self._size * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(disc_color(name)))
        area = QRectF(0, 0, self._size, self._size)
        painter.drawEllipse(area)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(8, round(self._size * 0.4)))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.initials)
        painter.end()
        self.setPixmap(pixmap)
