"""A window-modal question before something that cannot be undone: Cancel is the default."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def confirm_destructive(
    parent: QWidget,
    *,
    name: str,
    title: str,
    text: str,
    action: str,
    on_confirm: Callable[[], None],
) -> QMessageBox:
    """Open the question without blocking the event loop; `on_confirm` runs only for `action`."""
    box = QMessageBox(
        QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent
    )
    box.setObjectName(name)
    confirm = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: on_confirm() if button is confirm else None)
    box.open()
    return box
