"""Heading labels styled by the theme (object names the stylesheet in ui/theme.py knows)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


def heading(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    return label


def subheading(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("subheading")
    return label


def muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label
