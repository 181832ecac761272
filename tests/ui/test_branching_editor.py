"""The branching editor on its own (no stack): a sample dialog loaded, nodes added, connected,
edited, moved, deleted, from the toolbar's keys and the inspector; undo and redo restore the
document exactly; problems shown on their node; what comes out passes validate_branching."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.formats import validate_branching
from ui.studio.branching_editor import STEP, BranchingEditor
from ui.studio.branching_items import NODE_HEIGHT, NODE_WIDTH
from ui.theme import DARK

REPO = Path(__file__).resolve().parents[2]
SAMPLES = json.loads((REPO / "resources" / "sample" / "scenarios.json").read_text("utf-8"))
COLD_CALL = next(s["branching"] for s in SAMPLES["scenarios"] if s["title"].startswith("Cold"))


@pytest.fixture
def editor(qtbot) -> BranchingEditor:
    editor = BranchingEditor()
    qtbot.addWidget(editor)
    editor.resize(1200, 800)
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    editor.set_document(COLD_CALL)
    editor.view.setFocus()
    return editor


def without_positions(document: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(document)
    for node in stripped["nodes"]:
        node.pop("position", None)
    return stripped


def ids(editor: BranchingEditor) -> list[str]:
    return [n["id"] for n in editor.document()["nodes"]]


def key(editor: BranchingEditor, qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(editor.view, key, modifier)


def test_a_sample_round_trips_with_a_position_on_every_node(editor) -> None:
    document = editor.document()
    validate_branching(document)
    assert without_positions(document) == COLD_CALL
    assert all(set(n["position"]) == {"x", "y"} for n in document["nodes"])
    assert editor.problems == []
    assert len(editor.node_items) == 5 and len(editor.edge_items) == 7
    labels = sorted(e.full_label for e in editor.edge_items if e.source.node_id == "why")
    assert labels == ["default", "intent question", "keywords save, cost, time, reduce, faster"]
    # Positions come back as they were saved, and a second editor shows the same picture.
    again = BranchingEditor()
    again.set_document(document)
    assert again.document() == document
    assert [i.pos() for i in again.node_items] == [i.pos() for i in editor.node_items]


def test_add_connect_edit_then_undo_and_redo_restore_exactly(editor, qtbot) -> None:
    original = editor.document()
    editor.select_node("interest")
    key(editor, qtbot, Qt.Key.Key_Insert)
    assert ids(editor)[-1] == "node6" and editor.selection() == ("node", 5)
    added = editor.document()
    new = added["nodes"][-1]
    assert new["persona_line"] and new["edges"] == []
    editor.check_now()
    assert any(p.node_id == "node6" and p.rule == "format" for p in editor.problems)

    # Connect interest -> node6 from the keyboard: Ctrl+E, Tab to the target, Return.
    editor.select_node("interest")
    key(editor, qtbot, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert editor.connecting
    while editor.selection() != ("node", 5):
        key(editor, qtbot, Qt.Key.Key_Tab)
    key(editor, qtbot, Qt.Key.Key_Return)
    assert not editor.connecting
    interest = editor.document()["nodes"][2]
    # interest has a default edge, so the new one is conditional, before the default.
    assert interest["edges"][1] == {"to": "node6", "when": {"keywords": []}}
    assert interest["edges"][-1] == {"to": "brushoff", "default": True}
    assert editor.selection() == ("edge", 2, 1)

    # The inspector edits the new edge's condition: phrases, then an intent.
    inspector = editor.inspector
    inspector.kind.setCurrentText("phrases")
    inspector.kind.activated.emit(inspector.kind.currentIndex())
    inspector.values.setText("next step, sounds good")
    inspector.values.editingFinished.emit()
    assert editor.document()["nodes"][2]["edges"][1] == {
        "to": "node6",
        "when": {"phrases": ["next step", "sounds good"]},
    }
    inspector.kind.setCurrentText("intent")
    inspector.kind.activated.emit(inspector.kind.currentIndex())
    inspector.intent.setCurrentText("agree")
    inspector.intent.activated.emit(inspector.intent.currentIndex())
    assert editor.document()["nodes"][2]["edges"][1] == {"to": "node6", "when": {"intent": "agree"}}
    # node6 gets an edge on to an end node and a line; then nothing is refused any more.
    editor.connect_nodes("node6", "close")
    editor.select_node("node6")
    inspector.line.setText("Sure, what do you suggest?")
    inspector.line.editingFinished.emit()
    final = editor.document()
    validate_branching(final)
    editor.check_now()
    assert [p for p in editor.problems if p.severity == "error"] == []

    steps = editor.undo_stack.count()
    for _ in range(steps):
        key(editor, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.document() == original
    for _ in range(steps):
        key(
            editor,
            qtbot,
            Qt.Key.Key_Z,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    assert editor.document() == final
    editor.undo_stack.setIndex(1)
    assert editor.document() == added
    key(editor, qtbot, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert editor.undo_stack.index() == 2


def test_delete_a_node_takes_the_edges_into_it_and_undo_brings_them_back(editor, qtbot) -> None:
    original = editor.document()
    editor.select_node("brushoff")
    key(editor, qtbot, Qt.Key.Key_Delete)
    document = editor.document()
    assert "brushoff" not in ids(editor)
    assert all(e["to"] != "brushoff" for n in document["nodes"] for e in n.get("edges", []))
    assert len(editor.node_items) == 4 and len(editor.edge_items) == 5
    editor.check_now()
    # why and interest lost their default edges: warnings on those nodes.
    assert {(p.rule, p.node_id) for p in editor.problems} == {
        ("no_default", "why"),
        ("no_default", "interest"),
    }
    editor.undo_stack.undo()
    assert editor.document() == original and len(editor.edge_items) == 7

    # An edge alone.
    editor.select(("edge", 0, 0))
    key(editor, qtbot, Qt.Key.Key_Delete)
    assert editor.document()["nodes"][0]["edges"] == [{"to": "why", "default": True}]
    editor.undo_stack.undo()
    assert editor.document() == original


def test_keyboard_goes_from_node_to_node_and_moves_them(editor, qtbot) -> None:
    seen = []
    for _ in range(6):
        key(editor, qtbot, Qt.Key.Key_Tab)
        seen.append(editor.selection())
    assert seen == [("node", i) for i in (0, 1, 2, 3, 4, 0)]
    key(editor, qtbot, Qt.Key.Key_Backtab)
    assert editor.selection() == ("node", 4)
    assert editor.view.hasFocus()  # Tab stayed in the graph

    item = editor.node_items[4]
    start = item.pos()
    for _ in range(3):
        key(editor, qtbot, Qt.Key.Key_Right)
    key(editor, qtbot, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert item.pos() == start + QPointF(3 * STEP, 1)
    assert editor.document()["nodes"][4]["position"] == {"x": start.x() + 30, "y": start.y() + 1}
    assert editor.undo_stack.count() == 1  # one run of arrow presses, one undo step
    editor.undo_stack.undo()
    assert item.pos() == start

    # Return edits the selected node: the inspector's line field takes the focus.
    key(editor, qtbot, Qt.Key.Key_Return)
    assert editor.inspector.line.hasFocus()
    # Escape clears the selection.
    editor.view.setFocus()
    key(editor, qtbot, Qt.Key.Key_Escape)
    assert editor.selection() is None


def _send_mouse(editor, kind, point: QPoint, buttons) -> None:
    viewport = editor.view.viewport()
    event = QMouseEvent(
        kind,
        QPointF(point),
        QPointF(viewport.mapToGlobal(point)),
        Qt.MouseButton.LeftButton,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


def test_a_drag_is_one_undo_step_and_the_arrows_follow(editor) -> None:
    item = editor.node_items[0]
    start = item.pos()
    grab = editor.view.mapFromScene(item.pos() + QPointF(NODE_WIDTH / 2, NODE_HEIGHT / 2))
    left = Qt.MouseButton.LeftButton
    _send_mouse(editor, QMouseEvent.Type.MouseButtonPress, grab, left)
    for step in range(1, 11):
        _send_mouse(editor, QMouseEvent.Type.MouseMove, grab + QPoint(step * 5, step * 3), left)
    _send_mouse(
        editor, QMouseEvent.Type.MouseButtonRelease, grab + QPoint(50, 30), Qt.MouseButton.NoButton
    )
    moved = item.pos() - start
    assert moved.x() > 0 and moved.y() > 0
    assert editor.undo_stack.count() == 1
    position = editor.document()["nodes"][0]["position"]
    assert (position["x"], position["y"]) == (round(item.pos().x()), round(item.pos().y()))
    edge = next(e for e in editor.edge_items if e.source is item)
    assert edge.boundingRect().intersects(item.scene_rect().adjusted(-10, -10, 10, 10))
    editor.undo_stack.undo()
    assert item.pos() == start


def test_problems_are_shown_on_their_node_and_select_it(editor, qtbot) -> None:
    document = copy.deepcopy(COLD_CALL)
    # "why" loops back to "open" and no further: open and why are trapped, the rest unreachable.
    document["nodes"][0]["edges"] = [{"to": "why", "default": True}]
    document["nodes"][1]["edges"] = [{"to": "open", "default": True}]
    editor.set_document(document)
    trapped = {p.node_id for p in editor.problems if p.rule == "trapped"}
    assert trapped == {"open", "why"}
    why = editor.node_items[1]
    assert [p.rule for p in why.problems] == ["trapped"]
    assert "loop with no exit" in why.toolTip()
    interest = editor.node_items[2]
    assert [p.rule for p in interest.problems] == ["unreachable"]
    assert [p.rule for p in editor.node_items[3].problems] == ["unreachable"]  # brushoff
    assert editor.node_items[0].problems != [] and "start" in editor.node_items[0].toolTip()
    # A format problem at an edge is shown on the edge.
    document["nodes"][1]["edges"].insert(0, {"to": "open", "when": {"intent": "maybe"}})
    editor.set_document(document)
    (refusal,) = [p for p in editor.problems if p.rule == "format"]
    edge = next(e for e in editor.edge_items if (e.node_index, e.edge_index) == (1, 0))
    assert edge.problems == [refusal]
    # Clicking a problem in the list selects its place.
    row = next(
        r
        for r in range(editor.problem_list.count())
        if "cannot be reached" in editor.problem_list.item(r).text()
    )
    entry = editor.problem_list.item(row)
    rect = editor.problem_list.visualItemRect(entry)
    qtbot.mouseClick(editor.problem_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert editor.selection() == ("node", 2)
    # Edits are checked again after a pause.
    with qtbot.waitSignal(editor.problems_changed, timeout=2000):
        editor.edit_edge(1, 0, {"to": "interest", "when": {"intent": "question"}})
    assert not any(p.rule == "format" for p in editor.problems)


def test_renaming_a_node_renames_the_edges_into_it(editor, qtbot) -> None:
    changes = []
    editor.changed.connect(lambda: changes.append(1))
    editor.select_node("why")
    editor.inspector.node_id.setText("objection")
    editor.inspector.node_id.editingFinished.emit()
    document = editor.document()
    assert document["nodes"][1]["id"] == "objection"
    assert [e["to"] for e in document["nodes"][0]["edges"]] == ["objection", "objection"]
    validate_branching(document)
    # Making another node the start, and an end node: undoable too.
    editor.select_node("interest")
    editor.inspector.start.click()
    assert editor.document()["start"] == "interest"
    assert editor.node_items[2].start and not editor.node_items[0].start
    assert len(changes) == 2
    editor.undo_stack.undo()
    editor.undo_stack.undo()
    assert without_positions(editor.document()) == COLD_CALL


def test_dark_colours_and_an_unusable_document(editor) -> None:
    editor.set_colors(DARK)
    assert editor.scene.backgroundBrush().color().name() == DARK.window
    assert all(item.colors is DARK for item in editor.node_items)
    with pytest.raises(ValueError):
        editor.set_document({"nodes": "none"})
