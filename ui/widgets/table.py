"""The one way tables look and behave: read-only, whole rows, keyboard-friendly."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def make_table(model: QAbstractItemModel, name: str, accessible_name: str) -> QTableView:
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
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    table.setWordWrap(False)
    return table
