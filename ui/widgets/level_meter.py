"""A horizontal input level meter: RMS bar, peak tick, and a readable level for screen readers.

Levels arrive in dBFS (audio.capture.Level); the bar maps FLOOR_DB..0 dB linearly in dB, which
is how loudness is perceived. The peak tick falls back slowly so short peaks stay visible.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.theme import LIGHT, Colors

FLOOR_DB = -60.0
# Speech into a headset microphone sits around -30..-12 dBFS; above -3 it is close to clipping.
LOUD_DB = -3.0
PEAK_FALL_DB_PER_UPDATE = 1.5


def fraction(dbfs: float) -> float:
    """Position on the meter, 0 (silence floor) to 1 (full scale)."""
    return min(max((dbfs - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None, colors: Colors = LIGHT) -> None:
        super().__init__(parent)
        self.colors = colors
        self._rms = FLOOR_DB
        self._peak = FLOOR_DB
        self.setMinimumSize(QSize(120, 14))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Microphone level")
        self.setToolTip("Your microphone's level. Speak normally: the bar should reach the middle.")

    @property
    def rms_db(self) -> float:
        return self._rms

    @property
    def peak_db(self) -> float:
        return self._peak

    def set_level(self, rms_dbfs: float, peak_dbfs: float) -> None:
        self._rms = max(rms_dbfs, FLOOR_DB)
        self._peak = max(peak_dbfs, self._peak - PEAK_FALL_DB_PER_UPDATE, FLOOR_DB)
        self.setAccessibleDescription(f"{round(self._rms)} dB")
        self.update()

    def reset(self) -> None:
        self._rms = self._peak = FLOOR_DB
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, 16)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QColor(self.colors.muted))
        painter.setBrush(QColor(self.colors.alternate))
        painter.drawRoundedRect(rect, 3, 3)
        level = QRectF(rect)
        level.setWidth(rect.width() * fraction(self._rms))
        color = self.colors.bad if self._peak >= LOUD_DB else self.colors.good
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(level, 3, 3)
        x = rect.left() + rect.width() * fraction(self._peak)
        painter.setPen(QColor(self.colors.text))
        painter.drawLine(int(x), int(rect.top()) + 1, int(x), int(rect.bottom()) - 1)
        painter.end()
