"""A person's avatar: their picture in a disc where there is one (a persona's `avatar`), else
their initials on a disc whose colour follows from the name, so one persona looks the same on
every screen and two personas of a scenario list look different."""

from __future__ import annotations

import zlib

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPixmap
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
        self.showing_picture = False
        self._name = ""
        self.set_person("")

    def set_person(self, name: str, picture: bytes | None = None) -> None:
        """Show `name`'s picture (PNG or JPEG bytes) if given and readable, else initials."""
        self._name = name
        self.initials = initials(name)
        self.setAccessibleName(f"Avatar of {name}" if name else "Avatar")
        image = QImage.fromData(picture) if picture else QImage()
        self.showing_picture = not image.isNull()
        ratio = self.devicePixelRatioF() or 1.0
        pixmap = QPixmap(round(self._size * ratio), round(self._size * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        area = QRectF(0, 0, self._size, self._size)
        if self.showing_picture:
            self._paint_picture(painter, image, area)
        else:
            self._paint_initials(painter, name, area)
        painter.end()
        self.setPixmap(pixmap)

    def set_picture(self, picture: bytes | None) -> None:
        """The same person, now with (or without) a picture."""
        self.set_person(self._name, picture)

    @staticmethod
    def _paint_picture(painter: QPainter, image: QImage, area: QRectF) -> None:
        # Cropped to a centred square, then to the disc: a portrait keeps its face.
        side = min(image.width(), image.height())
        square = image.copy((image.width() - side) // 2, (image.height() - side) // 2, side, side)
        clip = QPainterPath()
        clip.addEllipse(area)
        painter.setClipPath(clip)
        painter.drawImage(area, square)

    def _paint_initials(self, painter: QPainter, name: str, area: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(disc_color(name)))
        painter.drawEllipse(area)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(8, round(self._size * 0.4)))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.initials)
