"""A one-page PDF summary of a team (app/client/team_summary.py), written by Qt's own PDF writer.

QPdfWriter and QPainter need a QGuiApplication and run on the GUI thread (fonts are Qt's); the
page is drawn into memory and reaches the disk whole (app/durable.py). Long member lists go into
columns, then are cut with a line saying how many more there are: the summary is one page.
The org's logo, when the summary has one Qt can read, sits at the header's right; without it the
title takes the whole width.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, Qt
from PySide6.QtGui import (
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
)

from app.client.formatting import local_time
from app.client.saving import save_as
from app.client.team_summary import TeamSummary
from app.errors import CoachdeskError

RESOLUTION = 300  # dots per inch: the painter's units
MARGIN_MM = 18
LINE_GAP = 0.3  # of a line's height, below it
NAME_COLUMNS = 3
GUTTER = 0.94  # of a column, the rest is space before the next
LOGO_HEIGHT_MM = 14  # about the title's two lines
LOGO_MAX_WIDTH_MM = 50  # a wide logo is scaled down to this, keeping its proportions
LOGO_GAP_MM = 4  # between the title and the logo


def _value(number: object, suffix: str = "") -> str:
    return "–" if number is None else f"{number}{suffix}"


def summary_pdf(summary: TeamSummary) -> bytes:
    """The page as PDF bytes."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(RESOLUTION)
    writer.setTitle(f"Team {summary.team_name}: summary")
    writer.setCreator("Coachdesk")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    painter = QPainter()
    if not painter.begin(writer):
        raise CoachdeskError("Could not start the PDF page; nothing was written.")
    try:
        _draw(painter, QRectF(painter.viewport()), summary)
    finally:
        painter.end()
    buffer.close()
    return bytes(data.data())


def write_team_summary(summary: TeamSummary, path: Path) -> Path:
    """The team's page at `path`: complete, or not at all."""
    return save_as(path, summary_pdf(summary), "the team summary")


def write_team_summaries(summaries: Sequence[TeamSummary], folder: Path) -> list[Path]:
    """One page per team in `folder`, named after the team."""
    return [
        write_team_summary(s, Path(folder) / f"coachdesk-team-{_file_stem(s.team_name)}.pdf")
        for s in summaries
    ]


def _file_stem(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip())
    return kept.strip("-").lower() or "team"


class _Page:
    """Lines top to bottom within `area`; `lines_left` says how many more of a size fit."""

    def __init__(self, painter: QPainter, area: QRectF) -> None:
        self.painter = painter
        self.area = area
        self.y = area.top()

    def line(
        self,
        text: str,
        size: float,
        *,
        bold: bool = False,
        gap: float = LINE_GAP,
        left: float | None = None,
        width: float | None = None,
    ) -> None:
        font = self._font(size, bold)
        height = QFontMetricsF(font, self.painter.device()).height()
        self.painter.setFont(font)
        box = QRectF(
            self.area.left() if left is None else left,
            self.y,
            self.area.width() if width is None else width,
            height,
        )
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        elided = QFontMetricsF(font, self.painter.device()).elidedText(
            text, Qt.TextElideMode.ElideRight, box.width()
        )
        self.painter.drawText(box, int(flags), elided)
        self.y += height * (1 + gap)

    def line_height(self, size: float) -> float:
        return QFontMetricsF(self._font(size, False), self.painter.device()).height() * (
            1 + LINE_GAP
        )

    def lines_left(self, size: float) -> int:
        return int((self.area.bottom() - self.y) // self.line_height(size))

    @staticmethod
    def _font(size: float, bold: bool) -> QFont:
        font = QFont()
        font.setPointSizeF(size)
        font.setBold(bold)
        return font


def _mm(painter: QPainter, millimetres: float) -> float:
    return millimetres * painter.device().logicalDpiX() / 25.4


def _logo(painter: QPainter, area: QRectF, data: bytes | None) -> QRectF | None:
    """Draw the logo at the top right of `area`; where it went (None: no logo, or none Qt
    reads)."""
    image = QImage()
    if not data or not image.loadFromData(data) or image.isNull():
        return None
    height = _mm(painter, LOGO_HEIGHT_MM)
    width = min(height * image.width() / image.height(), _mm(painter, LOGO_MAX_WIDTH_MM))
    height = width * image.height() / image.width()
    box = QRectF(area.right() - width, area.top(), width, height)
    painter.drawImage(box, image)
    return box


def _draw(painter: QPainter, area: QRectF, s: TeamSummary) -> None:
    page = _Page(painter, area)
    logo = _logo(painter, area, s.logo)
    gap = _mm(painter, LOGO_GAP_MM)
    title_width = area.width() if logo is None else logo.left() - area.left() - gap
    page.line(f"Team {s.team_name}", 20, bold=True, gap=0.2, width=title_width)
    org = f"{s.org_name} · " if s.org_name else ""
    page.line(f"{org}Summary as of {local_time(s.at)}", 10, gap=1.0, width=title_width)
    if logo is not None:
        page.y = max(page.y, logo.bottom() + gap)

    page.line("Assignments", 13, bold=True)
    for label, value in (
        ("Completion", f"{_value(s.completion, ' %')} ({s.passed} of {s.assigned} passed)"),
        ("Average score", _value(s.average_score)),
        ("Pass rate", f"{_value(s.pass_rate, ' %')} ({s.passed} of {s.attempted} tried)"),
        ("Overdue people", str(len(s.overdue))),
    ):
        page.line(f"{label}: {value}", 11)
    page.y += 20

    sections = (("Overdue", s.overdue, "Nobody is overdue."), ("Members", s.members, "None."))
    for title, names, empty in sections:
        page.line(f"{title} ({len(names)})", 13, bold=True)
        _names(page, names, empty)
        page.y += 20


def _names(page: _Page, names: Sequence[str], empty: str) -> None:
    """One name a line, in up to NAME_COLUMNS columns when the page's rest is too short; what
    still does not fit ends in "… and N more"."""
    if not names:
        page.line(empty, 11)
        return
    rows = max(page.lines_left(11), 1)
    columns = min(-(-len(names) // rows), NAME_COLUMNS)
    cells = rows * columns
    shown = list(names) if len(names) <= cells else [*names[: cells - 1], ""]
    if len(names) > cells:
        shown[-1] = f"… and {len(names) - cells + 1} more"
    top, width = page.y, page.area.width() / columns
    for column in range(columns):
        page.y = top
        for name in shown[column * rows : (column + 1) * rows]:
            page.line(name, 11, left=page.area.left() + column * width, width=width * GUTTER)
    page.y = top + min(len(shown), rows) * page.line_height(11)
