"""The one way tables look and behave: read-only, whole rows, keyboard-friendly."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QProxyStyle,
    QStyle,
    QStyleOption,
    QStyleOptionHeader,
    QTableView,
    QWidget,
)

_FLIPPED = {
    QStyleOptionHeader.SortIndicator.SortUp: QStyleOptionHeader.SortIndicator.SortDown,
    QStyleOptionHeader.SortIndicator.SortDown: QStyleOptionHeader.SortIndicator.SortUp,
}


class SortArrowStyle(QProxyStyle):
    """Fusion as the app uses it, with the header's sort arrow pointing the common way: up for
    ascending (smallest first), down for descending. QHeaderView asks for the opposite arrow
    (an old KDE convention), so a table of the newest attempts first showed an up arrow.

    Set on headers only: a Python style on every widget would put Python in every paint."""

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and isinstance(
            option, QStyleOptionHeader
        ):
            flipped = QStyleOptionHeader(option)
            flipped.sortIndicator = _FLIPPED.get(option.sortIndicator, option.sortIndicator)
            option = flipped
        super().drawPrimitive(element, option, painter, widget)


_header_style: SortArrowStyle | None = None


def header_style() -> SortArrowStyle:
    """One style object for every table header (a style must outlive the widgets using it)."""
    global _header_style
    if _header_style is None:
        _header_style = SortArrowStyle("Fusion")
    return _header_style


def make_table(
    model: QAbstractItemModel, name: str, accessible_name: str, *, stretch: int | None = None
) -> QTableView:
    """`stretch`: the column that takes the spare width (default: the last one)."""
    table = QTableView()
    table.setObjectName(name)
    table.setAccessibleName(accessible_name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setTabKeyNavigation(False)  # Tab leaves the table; the arrow keys move inside it
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setStyle(header_style())
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.setWordWrap(False)
    return table


def fit_rows(table: QTableView) -> None:
    """Make a short table exactly as tall as its rows (no empty space below them)."""
    rows = table.model().rowCount()
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(row) for row in range(rows))
    table.setFixedHeight(height)
