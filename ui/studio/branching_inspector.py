"""The branching editor's inspector: the selected node's id, line, end and start flags, or the
selected edge's target and condition (keywords, phrases, an intent, or the default edge).

It shows what it is given and says what the author asked for (`node_edited`, `edge_edited`);
the editor turns each request into an undoable edit. Fields commit when the author finishes
them (Return or leaving the field), so one edit is one undo step, not one per keystroke.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from app.formats import INTENTS

KINDS = ("default", "keywords", "phrases", "intent")


def split_values(text: str) -> list[str]:
    """Keywords or phrases as typed, comma-separated: "how much, what does it cost"."""
    return [part.strip() for part in text.split(",") if part.strip()]


def edge_kind(edge: dict[str, Any]) -> str:
    if edge.get("default") is True:
        return "default"
    when = edge.get("when")
    if isinstance(when, dict):
        return next((k for k in ("keywords", "phrases", "intent") if k in when), "keywords")
    return "keywords"


def edge_with(edge: dict[str, Any], kind: str, values: list[str], intent: str) -> dict[str, Any]:
    """The edge with a new condition; its other keys (target, anything an author added) kept."""
    changed = {k: v for k, v in edge.items() if k not in ("when", "default")}
    if kind == "default":
        changed["default"] = True
    elif kind == "intent":
        changed["when"] = {"intent": intent}
    else:
        changed["when"] = {kind: values}
    return changed


class Inspector(QStackedWidget):
    # (field, value): "id" / "persona_line" (str), "end" / "start" (bool)
    node_edited = Signal(str, object)
    edge_edited = Signal(dict)  # the edge as it should become
    edge_moved = Signal(int)  # -1: try it earlier, +1: later

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("branchingInspector")
        self._edge: dict[str, Any] = {}

        empty = QLabel("Select a node or an edge to edit it.")
        empty.setObjectName("muted")
        empty.setWordWrap(True)
        self.addWidget(empty)

        self.node_page = QWidget()
        form = QFormLayout(self.node_page)
        self.node_id = QLineEdit()
        self.node_id.setAccessibleName("Node id")
        self.line = QLineEdit()
        self.line.setAccessibleName("Persona line")
        self.end = QCheckBox("The call ends after this line")
        self.start = QCheckBox("The call starts here")
        form.addRow("&Id", self.node_id)
        form.addRow("&Line", self.line)
        form.addRow("", self.end)
        form.addRow("", self.start)
        self.addWidget(self.node_page)
        self.node_id.editingFinished.connect(
            lambda: self.node_edited.emit("id", self.node_id.text().strip())
        )
        self.line.editingFinished.connect(
            lambda: self.node_edited.emit("persona_line", self.line.text())
        )
        self.end.clicked.connect(lambda on: self.node_edited.emit("end", bool(on)))
        self.start.clicked.connect(lambda on: self.node_edited.emit("start", bool(on)))

        self.edge_page = QWidget()
        edge_form = QFormLayout(self.edge_page)
        self.route = QLabel()
        self.target = QComboBox()
        self.target.setAccessibleName("Target node")
        self.kind = QComboBox()
        self.kind.addItems(KINDS)
        self.kind.setAccessibleName("Condition")
        self.values = QLineEdit()
        self.values.setPlaceholderText("comma-separated: save, cost, time")
        self.values.setAccessibleName("Keywords or phrases")
        self.intent = QComboBox()
        self.intent.addItems(INTENTS)
        self.intent.setAccessibleName("Intent")
        self.earlier = QPushButton("Try &earlier")
        self.later = QPushButton("Try l&ater")
        edge_form.addRow("", self.route)
        edge_form.addRow("&To", self.target)
        edge_form.addRow("&When", self.kind)
        edge_form.addRow("&Words", self.values)
        edge_form.addRow("&Intent", self.intent)
        edge_form.addRow(self.earlier, self.later)
        self.addWidget(self.edge_page)
        self.target.activated.connect(lambda _: self._emit_edge())
        self.kind.activated.connect(lambda _: self._emit_edge())
        self.values.editingFinished.connect(self._emit_edge)
        self.intent.activated.connect(lambda _: self._emit_edge())
        self.earlier.clicked.connect(lambda: self.edge_moved.emit(-1))
        self.later.clicked.connect(lambda: self.edge_moved.emit(1))

    def show_nothing(self) -> None:
        self.setCurrentIndex(0)

    def show_node(self, node: dict[str, Any], is_start: bool) -> None:
        self.node_id.setText(str(node.get("id", "")))
        self.line.setText(str(node.get("persona_line", "")))
        self.end.setChecked(node.get("end") is True)
        self.start.setChecked(is_start)
        self.start.setEnabled(not is_start)  # the start moves by choosing another node
        self.setCurrentWidget(self.node_page)

    def show_edge(
        self, source: str, edge: dict[str, Any], index: int, count: int, node_ids: list[str]
    ) -> None:
        self._edge = dict(edge)
        self.route.setText(f"Edge {index + 1} of {count} from “{source}”")
        self.target.clear()
        self.target.addItems(node_ids)
        self.target.setCurrentText(str(edge.get("to", "")))
        kind = edge_kind(edge)
        self.kind.setCurrentText(kind)
        when = edge.get("when") if isinstance(edge.get("when"), dict) else {}
        values = when.get(kind) if kind in ("keywords", "phrases") else None
        self.values.setText(", ".join(map(str, values)) if isinstance(values, list) else "")
        self.values.setEnabled(kind in ("keywords", "phrases"))
        intent = when.get("intent")
        self.intent.setCurrentText(intent if intent in INTENTS else INTENTS[0])
        self.intent.setEnabled(kind == "intent")
        self.earlier.setEnabled(index > 0)
        self.later.setEnabled(index < count - 1)
        self.setCurrentWidget(self.edge_page)

    def focus_first(self) -> None:
        (self.line if self.currentWidget() is self.node_page else self.kind).setFocus()

    def _emit_edge(self) -> None:
        edge = edge_with(
            {**self._edge, "to": self.target.currentText()},
            self.kind.currentText(),
            split_values(self.values.text()),
            self.intent.currentText(),
        )
        self.values.setEnabled(self.kind.currentText() in ("keywords", "phrases"))
        self.intent.setEnabled(self.kind.currentText() == "intent")
        self.edge_edited.emit(edge)
