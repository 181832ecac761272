"""The branching editor: a scenario's dialog as a graph to see and edit, checked as it changes.

Nodes are persona lines, arrows their edges labelled with the condition. Add, connect, move,
delete and every field of the inspector are undoable (one QUndoStack); the problems of
app.branching_check (the database's rules first, then unreachable nodes, nodes with no way to
an end, loops with no exit, nodes without a default edge) are painted on their node or edge and
listed under the graph, where clicking one selects its place. The editor holds the document
(`set_document`, `document()`, node positions included) and says when it changed; saving it is
the Studio's business.

Keyboard: Ins adds a node, Ctrl+E connects the selected node to the next one chosen (click it,
or Tab to it and press Return; Esc cancels), Del deletes, Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y) undo
and redo, Tab / Shift+Tab go from node to node, the arrows move the selected node (Shift: finer),
Return or F2 edits it in the inspector, Ctrl+Tab leaves the graph.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QKeyEvent, QKeySequence, QMouseEvent, QUndoStack
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.branching_check import (
    ROW_SPACING,
    Problem,
    check_branching,
    describe_edge,
    layout,
    stored_position,
)
from ui.studio.branching_commands import (
    EditCommand,
    MoveCommand,
    Position,
    Selection,
    new_gesture,
)
from ui.studio.branching_inspector import Inspector
from ui.studio.branching_items import NODE_HEIGHT, NODE_WIDTH, EdgeItem, NodeItem
from ui.theme import LIGHT, Colors

CHECK_DELAY_MS = 150  # problems are checked once the author pauses, not on every keystroke
STEP = 10.0  # an arrow key moves the node this far (Shift: FINE_STEP)
FINE_STEP = 1.0
NEW_LINE = "New persona line"


class GraphView(QGraphicsView):
    """The scene's view, with the editor's keys: Tab cycles nodes, arrows move them."""

    def __init__(self, editor: BranchingEditor) -> None:
        super().__init__(editor.scene)
        self._editor = editor
        self.setObjectName("branchingGraph")
        self.setAccessibleName("Dialog graph")
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def event(self, event: QEvent) -> bool:
        # Tab would leave the view; here it goes from node to node (Ctrl+Tab leaves).
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
            if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
                if ctrl:
                    QWidget.focusNextPrevChild(self, event.key() == Qt.Key.Key_Tab)
                else:
                    self._editor.cycle(-1 if event.key() == Qt.Key.Key_Backtab else 1)
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        fine = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        step = FINE_STEP if fine else STEP
        arrows = {
            Qt.Key.Key_Left: (-step, 0.0),
            Qt.Key.Key_Right: (step, 0.0),
            Qt.Key.Key_Up: (0.0, -step),
            Qt.Key.Key_Down: (0.0, step),
        }
        if key in arrows and self._editor.selected_nodes():
            self._editor.nudge(*arrows[key])
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2):
            self._editor.activate()
        elif key == Qt.Key.Key_Escape:
            self._editor.escape()
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._editor.connecting:
            item = self.itemAt(event.position().toPoint())
            if isinstance(item, NodeItem):  # the chosen target, not the start of a drag
                self._editor.connect_to(item.index)
                event.accept()
                return
        self._editor.begin_gesture()
        super().mousePressEvent(event)


class BranchingEditor(QWidget):
    """Edits one branching document; `changed` after every edit, undo and redo included."""

    changed = Signal()
    problems_changed = Signal()

    def __init__(self, colors: Colors = LIGHT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("branchingEditor")
        self.colors = colors
        self._doc: dict[str, Any] = {"start": "", "nodes": []}
        self.problems: list[Problem] = []
        self.node_items: list[NodeItem] = []
        self.edge_items: list[EdgeItem] = []
        self._restoring = False  # positions set by the editor itself are not moves
        self._gesture = new_gesture()  # the drag in progress
        self._nudge_gesture = new_gesture()
        self._nudged_at = -1  # the undo index after the last arrow-key move
        self._connect_from: int | None = None
        self.undo_stack = QUndoStack(self)

        self.scene = QGraphicsScene(self)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.view = GraphView(self)
        self.inspector = Inspector()
        self.inspector.node_edited.connect(self._node_edited)
        self.inspector.edge_edited.connect(self._edge_edited)
        self.inspector.edge_moved.connect(self._edge_moved)
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.problem_list = QListWidget()
        self.problem_list.setObjectName("branchingProblems")
        self.problem_list.setAccessibleName("Problems")
        self.problem_list.itemClicked.connect(self._problem_clicked)
        self.problem_list.itemActivated.connect(self._problem_clicked)
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.check_now)

        self.toolbar = QToolBar()
        self.add_action = self._action("Add node", QKeySequence(Qt.Key.Key_Insert), self.add_node)
        self.connect_action = self._action("Connect", QKeySequence("Ctrl+E"), self.start_connect)
        self.delete_action = self._action(
            "Delete", QKeySequence(QKeySequence.StandardKey.Delete), self.delete_selected
        )
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.toolbar.addActions(
            [
                self.add_action,
                self.connect_action,
                self.delete_action,
                self.undo_action,
                self.redo_action,
            ]
        )

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.view)
        split.addWidget(self.inspector)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        self.inspector.setMinimumWidth(260)
        self.inspector.setMaximumWidth(420)
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(split)
        vertical.addWidget(self.problem_list)
        vertical.setStretchFactor(0, 1)
        vertical.setStretchFactor(1, 0)
        self.problem_list.setMinimumHeight(60)
        vertical.setSizes([600, 120])
        top = QHBoxLayout()
        top.addWidget(self.toolbar)
        top.addWidget(self.status, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(vertical)
        self.set_colors(colors)
        self._selection_changed()

    def _action(self, text: str, key: QKeySequence, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setShortcut(key)
        action.setToolTip(f"{text} ({key.toString(QKeySequence.SequenceFormat.NativeText)})")
        # Only while the editor has focus: Del in another screen's field is not ours.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- the document ------------------------------------------------------------------------

    def set_document(self, document: Mapping[str, Any]) -> None:
        """Show a branching document to edit; forgets the undo history.

        Nodes without a valid "position" get one from app.branching_check.layout, so the
        document read back has a position on every node.
        """
        if not isinstance(document, Mapping) or not isinstance(document.get("nodes"), list):
            raise ValueError('a branching document is an object with a "nodes" array')
        doc = copy.deepcopy(dict(document))
        doc["nodes"] = [
            n if isinstance(n, dict) else {"id": "", "persona_line": ""} for n in doc["nodes"]
        ]
        positions = layout(doc)
        for node in doc["nodes"]:
            if stored_position(node) is None:
                x, y = (
                    positions.get(node.get("id"), (0.0, 0.0))
                    if isinstance(node.get("id"), str)
                    else (0.0, 0.0)
                )
                node["position"] = {"x": round(x), "y": round(y)}
        self.undo_stack.clear()
        self._connect_from = None
        self.restore(doc, None, emit=False)
        self.view.centerOn(self.node_items[0] if self.node_items else QPointF())
        self.check_now()

    def document(self) -> dict[str, Any]:
        """The edited document, a position on every node."""
        return copy.deepcopy(self._doc)

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.scene.setBackgroundBrush(QBrush(colors.q("window")))
        for item in (*self.node_items, *self.edge_items):
            item.colors = colors
            item.update()
        self._show_problems()

    # --- what the commands call --------------------------------------------------------------

    def restore(self, document: dict[str, Any], selection: Selection, emit: bool = True) -> None:
        """Show `document` as the current state (a command's redo or undo)."""
        self._doc = document
        self._restoring = True
        try:
            self._rebuild()
        finally:
            self._restoring = False
        self.select(selection)
        if emit:
            self._check_timer.start()
            self.changed.emit()

    def place(self, positions: dict[int, Position]) -> None:
        """Put nodes (by index) at positions (a move's redo or undo)."""
        self._restoring = True
        try:
            for index, (x, y) in positions.items():
                self._doc["nodes"][index]["position"] = {"x": x, "y": y}
                self.node_items[index].setPos(x, y)
        finally:
            self._restoring = False
        self.changed.emit()

    def _rebuild(self) -> None:
        nodes = self._doc["nodes"]
        while len(self.node_items) > len(nodes):
            self.scene.removeItem(self.node_items.pop())
        while len(self.node_items) < len(nodes):
            item = NodeItem(self.colors, self._node_moved)
            self.scene.addItem(item)
            self.node_items.append(item)
        start = self._doc.get("start")
        for index, (item, node) in enumerate(zip(self.node_items, nodes, strict=True)):
            item.edges.clear()
            item.show_node(index, node, node.get("id") == start)
            x, y = stored_position(node) or (0.0, 0.0)
            item.setPos(x, y)
        for edge_item in self.edge_items:
            self.scene.removeItem(edge_item)
        self.edge_items = []
        by_id: dict[Any, NodeItem] = {}
        for item, node in zip(self.node_items, nodes, strict=True):
            by_id.setdefault(node.get("id"), item)
        for item, node in zip(self.node_items, nodes, strict=True):
            edges = node.get("edges") if isinstance(node.get("edges"), list) else []
            lanes: dict[Any, int] = {}
            for j, edge in enumerate(edges):
                target = by_id.get(edge.get("to")) if isinstance(edge, dict) else None
                if target is None:
                    continue  # an edge to nowhere: its problem is shown on its node
                lane = lanes.get(edge["to"], 0)
                lanes[edge["to"]] = lane + 1
                edge_item = EdgeItem(
                    self.colors,
                    item,
                    target,
                    j,
                    describe_edge(edge),
                    edge.get("default") is True,
                    lane,
                )
                self.scene.addItem(edge_item)
                self.edge_items.append(edge_item)
        self._show_problems()

    # --- selection ---------------------------------------------------------------------------

    def selection(self) -> Selection:
        selected = self.scene.selectedItems()
        if len(selected) != 1:
            return None
        item = selected[0]
        if isinstance(item, NodeItem):
            return ("node", item.index)
        if isinstance(item, EdgeItem):
            return ("edge", item.node_index, item.edge_index)
        return None

    def selected_nodes(self) -> list[NodeItem]:
        return [i for i in self.scene.selectedItems() if isinstance(i, NodeItem)]

    def select(self, selection: Selection) -> None:
        item = self._item_at(selection)
        self.scene.blockSignals(True)
        try:
            self.scene.clearSelection()
            if item is not None:
                item.setSelected(True)
        finally:
            self.scene.blockSignals(False)
        if item is not None:
            self.view.ensureVisible(item, 40, 40)
        self._selection_changed()

    def select_node(self, node_id: str) -> None:
        index = next((i for i, n in enumerate(self._doc["nodes"]) if n.get("id") == node_id), None)
        self.select(None if index is None else ("node", index))

    def _item_at(self, selection: Selection) -> NodeItem | EdgeItem | None:
        if selection is None:
            return None
        if selection[0] == "node" and 0 <= selection[1] < len(self.node_items):
            return self.node_items[selection[1]]
        if selection[0] == "edge":
            return next(
                (
                    e
                    for e in self.edge_items
                    if (e.node_index, e.edge_index) == (selection[1], selection[2])
                ),
                None,
            )
        return None

    def _selection_changed(self) -> None:
        selection = self.selection()
        nodes = self._doc["nodes"]
        if selection is None:
            self.inspector.show_nothing()
        elif selection[0] == "node":
            node = nodes[selection[1]]
            self.inspector.show_node(node, node.get("id") == self._doc.get("start"))
        else:
            _, i, j = selection
            edges = nodes[i]["edges"]
            self.inspector.show_edge(
                str(nodes[i].get("id")),
                edges[j],
                j,
                len(edges),
                [str(n.get("id")) for n in nodes],
            )
        self.delete_action.setEnabled(bool(self.scene.selectedItems()))
        self.connect_action.setEnabled(selection is not None and selection[0] == "node")

    def cycle(self, step: int) -> None:
        """Select the next (step 1) or previous (-1) node, in document order."""
        if not self.node_items:
            return
        selection = self.selection()
        current = selection[1] if selection and selection[0] == "node" else (-1 if step > 0 else 0)
        self.select(("node", (current + step) % len(self.node_items)))
        if self._connect_from is not None:
            self._show_connect_hint()

    def activate(self) -> None:
        """Return: connect to the selected node while connecting, else edit it."""
        selection = self.selection()
        if self._connect_from is not None and selection and selection[0] == "node":
            self.connect_to(selection[1])
        elif selection is not None:
            self.inspector.focus_first()

    def escape(self) -> None:
        if self._connect_from is not None:
            self._connect_from = None
            self.status.setText("Connecting cancelled.")
        else:
            self.select(None)

    # --- edits -------------------------------------------------------------------------------

    def _edit(
        self,
        text: str,
        change: Callable[[dict[str, Any]], Selection],
    ) -> None:
        """Push an undoable edit: `change` alters a copy of the document, returns the selection."""
        before = copy.deepcopy(self._doc)
        after = copy.deepcopy(before)
        selection_after = change(after)
        if after == before:
            return
        self.undo_stack.push(
            EditCommand(self, text, before, after, self.selection(), selection_after)
        )

    def add_node(self) -> None:
        """A new node, right of the selected one (or in the middle of the view), selected."""
        ids = {n.get("id") for n in self._doc["nodes"]}
        number = len(ids) + 1
        while f"node{number}" in ids:
            number += 1
        selected = self.selected_nodes()
        if selected:
            x, y = selected[0].pos().x() + NODE_WIDTH + 60, selected[0].pos().y()
        else:
            center = self.view.mapToScene(self.view.viewport().rect().center())
            x, y = center.x() - NODE_WIDTH / 2, center.y() - NODE_HEIGHT / 2
        x, y = self._free_spot(x, y)
        node = {
            "id": f"node{number}",
            "persona_line": NEW_LINE,
            "edges": [],
            "position": {"x": round(x), "y": round(y)},
        }

        def change(doc: dict[str, Any]) -> Selection:
            doc["nodes"].append(node)
            return ("node", len(doc["nodes"]) - 1)

        self._edit("Add node", change)
        self.status.setText(f"Added “{node['id']}”: connect it (Ctrl+E) and write its line.")

    def _free_spot(self, x: float, y: float) -> tuple[float, float]:
        """(x, y), or below it where no node is: a new node must not hide another."""
        taken = [item.scene_rect().adjusted(-20, -20, 20, 20) for item in self.node_items]
        spot = QRectF(x, y, NODE_WIDTH, NODE_HEIGHT)
        while any(rect.intersects(spot) for rect in taken):
            spot.translate(0, ROW_SPACING)
        return spot.x(), spot.y()

    def start_connect(self) -> None:
        selection = self.selection()
        if selection is None or selection[0] != "node":
            self.status.setText("Select the node the new edge starts from, then Connect.")
            return
        if self._doc["nodes"][selection[1]].get("end") is True:
            self.status.setText("An end node has no edges: untick “ends” first.")
            return
        self._connect_from = selection[1]
        self._show_connect_hint()

    def _show_connect_hint(self) -> None:
        source = self._doc["nodes"][self._connect_from or 0].get("id")
        self.status.setText(
            f"Connect from “{source}”: click the target node, or Tab to it and press Return "
            "(the node itself for a loop); Esc cancels."
        )

    @property
    def connecting(self) -> bool:
        """True between Connect and the choice of the target node."""
        return self._connect_from is not None

    def connect_to(self, target: int) -> None:
        """Finish Connect: an edge from the node Connect started at to node `target`."""
        source = self._connect_from
        self._connect_from = None
        if source is None:
            return
        target_id = self._doc["nodes"][target].get("id")
        self.connect_nodes(str(self._doc["nodes"][source].get("id")), str(target_id))

    def connect_nodes(self, source_id: str, target_id: str) -> None:
        """A new edge from one node to another: the default edge if the node has none yet, else
        a keywords edge for the author to fill in (the problems list says so until then)."""
        nodes = self._doc["nodes"]
        source = next(i for i, n in enumerate(nodes) if n.get("id") == source_id)

        def change(doc: dict[str, Any]) -> Selection:
            node = doc["nodes"][source]
            edges = node.get("edges") if isinstance(node.get("edges"), list) else []
            has_default = any(isinstance(e, dict) and e.get("default") is True for e in edges)
            edge: dict[str, Any] = (
                {"to": target_id, "when": {"keywords": []}}
                if has_default
                else {"to": target_id, "default": True}
            )
            # Before the default edge, which is tried last anyway: the order reads as it runs.
            at = next(
                (
                    k
                    for k, e in enumerate(edges)
                    if isinstance(e, dict) and e.get("default") is True
                ),
                len(edges),
            )
            edges.insert(at, edge)
            node["edges"] = edges
            return ("edge", source, at)

        self._edit("Connect nodes", change)
        self.status.setText(f"Connected “{source_id}” to “{target_id}”.")

    def delete_selected(self) -> None:
        """Delete the selected nodes (and every edge into them) or the selected edges."""
        nodes = [i.index for i in self.selected_nodes()]
        edges = [
            (e.node_index, e.edge_index)
            for e in self.scene.selectedItems()
            if isinstance(e, EdgeItem)
        ]
        if not nodes and not edges:
            return

        def change(doc: dict[str, Any]) -> Selection:
            for i, j in sorted(edges, reverse=True):
                if i not in nodes:
                    del doc["nodes"][i]["edges"][j]
            gone = {doc["nodes"][i].get("id") for i in nodes}
            doc["nodes"] = [n for k, n in enumerate(doc["nodes"]) if k not in nodes]
            still = {n.get("id") for n in doc["nodes"]}
            for node in doc["nodes"]:
                if isinstance(node.get("edges"), list):
                    node["edges"] = [
                        e
                        for e in node["edges"]
                        if not (isinstance(e, dict) and e.get("to") in gone - still)
                    ]
            return None

        self._edit("Delete node" if nodes else "Delete edge", change)

    def edit_node(self, index: int, field: str, value: Any) -> None:
        """Change a node's "id" (edges into it and the start follow), "persona_line", "end",
        or make it the "start"."""
        old_id = self._doc["nodes"][index].get("id")
        unique = sum(1 for n in self._doc["nodes"] if n.get("id") == old_id) == 1

        def change(doc: dict[str, Any]) -> Selection:
            node = doc["nodes"][index]
            if field == "start":
                if value:
                    doc["start"] = node.get("id")
            elif field == "end":
                if value:
                    node["end"] = True
                elif "end" in node:
                    node["end"] = False
            elif field == "id":
                node["id"] = value
                if unique and value:  # a duplicate's references are not its alone to take
                    if doc.get("start") == old_id:
                        doc["start"] = value
                    for other in doc["nodes"]:
                        for edge in other.get("edges") or []:
                            if isinstance(edge, dict) and edge.get("to") == old_id:
                                edge["to"] = value
            else:
                node[field] = value
            return ("node", index)

        self._edit(f"Edit node {field.replace('_', ' ')}", change)

    def edit_edge(self, index: int, edge_index: int, edge: dict[str, Any]) -> None:
        def change(doc: dict[str, Any]) -> Selection:
            doc["nodes"][index]["edges"][edge_index] = edge
            return ("edge", index, edge_index)

        self._edit("Edit edge", change)

    def move_node(self, index: int, x: float, y: float, gesture: int | None = None) -> None:
        item = self.node_items[index]
        old = stored_position(self._doc["nodes"][index]) or (item.pos().x(), item.pos().y())
        new = (round(x), round(y))
        if new != old:
            self.undo_stack.push(MoveCommand(self, gesture or new_gesture(), {index: (old, new)}))

    def nudge(self, dx: float, dy: float) -> None:
        """Move the selected nodes by the arrow keys: a run of presses is one undo step."""
        if self.undo_stack.index() != self._nudged_at:
            self._nudge_gesture = new_gesture()
        for item in self.selected_nodes():
            x, y = item.pos().x() + dx, item.pos().y() + dy
            self.move_node(item.index, x, y, self._nudge_gesture)
        self._nudged_at = self.undo_stack.index()

    def begin_gesture(self) -> None:
        self._gesture = new_gesture()

    def _node_moved(self, item: NodeItem) -> None:
        if not self._restoring:  # a drag: the mouse moved the item
            self.move_node(item.index, item.pos().x(), item.pos().y(), self._gesture)

    def _node_edited(self, field: str, value: Any) -> None:
        selection = self.selection()
        if selection and selection[0] == "node":
            if field in ("id", "persona_line") and value == self._doc["nodes"][selection[1]].get(
                field
            ):
                return
            self.edit_node(selection[1], field, value)

    def _edge_edited(self, edge: dict[str, Any]) -> None:
        selection = self.selection()
        if selection and selection[0] == "edge":
            self.edit_edge(selection[1], selection[2], edge)

    def _edge_moved(self, step: int) -> None:
        selection = self.selection()
        if not (selection and selection[0] == "edge"):
            return
        _, i, j = selection

        def change(doc: dict[str, Any]) -> Selection:
            edges = doc["nodes"][i]["edges"]
            k = max(0, min(len(edges) - 1, j + step))
            edges.insert(k, edges.pop(j))
            return ("edge", i, k)

        self._edit("Reorder edges", change)

    # --- problems ----------------------------------------------------------------------------

    def check_now(self) -> None:
        """Check the document at once (edits check it after a pause of CHECK_DELAY_MS)."""
        self._check_timer.stop()
        self.problems = check_branching(self._doc)
        self._show_problems()
        self.problems_changed.emit()

    def _show_problems(self) -> None:
        on_nodes: dict[int, list[Problem]] = {}
        on_edges: dict[tuple[int, int], list[Problem]] = {}
        drawn = {(e.node_index, e.edge_index) for e in self.edge_items}
        for problem in self.problems:
            if problem.node_index is None:
                continue
            if problem.edge is not None and (problem.node_index, problem.edge) in drawn:
                on_edges.setdefault((problem.node_index, problem.edge), []).append(problem)
            else:
                on_nodes.setdefault(problem.node_index, []).append(problem)
        for item in self.node_items:
            item.show_problems(on_nodes.get(item.index, []))
        for edge_item in self.edge_items:
            edge_item.show_problems(on_edges.get((edge_item.node_index, edge_item.edge_index), []))
        self.problem_list.clear()
        for problem in self.problems:
            entry = QListWidgetItem(f"{problem.severity.capitalize()}: {problem.message}")
            entry.setForeground(self.colors.q("bad" if problem.severity == "error" else "warn"))
            entry.setData(Qt.ItemDataRole.UserRole, problem)
            self.problem_list.addItem(entry)
        if not self.problems:
            self.problem_list.addItem("No problems: the dialog can be saved.")

    def problem_selection(self, problem: Problem) -> Selection:
        """Where a problem is shown: its edge if drawn, else its node, else nowhere."""
        if problem.node_index is None:
            return None
        if problem.edge is not None and self._item_at(("edge", problem.node_index, problem.edge)):
            return ("edge", problem.node_index, problem.edge)
        return ("node", problem.node_index)

    def _problem_clicked(self, entry: QListWidgetItem) -> None:
        problem = entry.data(Qt.ItemDataRole.UserRole)
        if isinstance(problem, Problem):
            selection = self.problem_selection(problem)
            self.select(selection)
            item = self._item_at(selection)
            if item is not None:
                self.view.centerOn(item)
