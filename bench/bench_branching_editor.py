"""The branching editor with a large dialog: time to open it (set_document and the first paint)
and the longest event-loop stall while a node is dragged across the view.

Offscreen platform, one process. Baselines, measured in the same run:
- open: an empty QGraphicsView shown and painted (what any graph view pays);
- stalls: the QTimer heartbeat of bench_ui (every HEARTBEAT_MS) on an idle loop; a stall is how
  late a beat fires. Targets: the dialog opens within 1 s, no stall over 50 ms while dragging.

Sizes: COACHDESK_BENCH_GRAPH_NODES (nodes in the dialog, default 200),
COACHDESK_BENCH_GRAPH_DRAG_S (seconds of dragging, default 2), COACHDESK_BENCH_GRAPH_OPENS
(opens per side, default 5).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.bench_ui import HEARTBEAT_MS, STALL_TARGET_MS, Heartbeat, _pump_until, _summary

NODES = int(os.environ.get("COACHDESK_BENCH_GRAPH_NODES", "200"))
DRAG_S = float(os.environ.get("COACHDESK_BENCH_GRAPH_DRAG_S", "2"))
OPENS = int(os.environ.get("COACHDESK_BENCH_GRAPH_OPENS", "5"))
OPEN_TARGET_S = 1.0
MOUSE_MS = 8  # a mouse reports moves about this often (125 Hz)


def large_dialog(count: int) -> dict[str, Any]:
    """A valid dialog of `count` nodes: a chain of questions with branches forward, a loop back
    now and then (always with a way out), and an end node every tenth node."""
    nodes: list[dict[str, Any]] = []
    for i in range(count - 1):
        node_id = f"n{i}"
        if i % 10 == 9:
            nodes.append(
                {"id": node_id, "persona_line": f"Thanks, that is all ({i}).", "end": True}
            )
            continue
        edges: list[dict[str, Any]] = [
            {"to": f"n{min(i + 2, count - 1)}", "when": {"keywords": ["price", "cost", "budget"]}},
            {"to": f"n{min(i + 3, count - 1)}", "when": {"intent": "objection"}},
        ]
        if i % 7 == 3 and i > 5:
            edges.append({"to": f"n{i - 4}", "when": {"phrases": ["say that again"]}})
        edges.append({"to": f"n{i + 1}", "default": True})
        nodes.append(
            {
                "id": node_id,
                "persona_line": f"Interesting. Tell me more about point {i}: how would that work?",
                "edges": edges,
            }
        )
    nodes.append({"id": f"n{count - 1}", "persona_line": "Okay, send me the invite.", "end": True})
    return {"version": 1, "start": "n0", "nodes": nodes}


def _open_empty_view() -> float:
    from PySide6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView

    started = time.perf_counter()
    scene = QGraphicsScene()
    view = QGraphicsView(scene)
    view.resize(1366, 768)
    view.show()
    QApplication.processEvents()
    view.viewport().repaint()
    elapsed = time.perf_counter() - started
    view.close()
    return elapsed


def _open_editor(document: dict[str, Any]) -> tuple[float, Any]:
    from PySide6.QtWidgets import QApplication

    from ui.studio.branching_editor import BranchingEditor

    started = time.perf_counter()
    editor = BranchingEditor()
    editor.resize(1366, 768)
    editor.show()
    editor.set_document(document)
    QApplication.processEvents()
    editor.view.viewport().repaint()
    return time.perf_counter() - started, editor


def _drag(editor: Any, seconds: float, heartbeat: Heartbeat, whole: bool) -> dict[str, float]:
    """Press on the most connected node and move the mouse across the view and back for
    `seconds`, one move every MOUSE_MS, as a hand would; then release. `whole`: the view zoomed
    out to show the whole dialog (every item repaints), else at 1:1. The heartbeat's gaps from
    the press to the release."""
    from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from ui.studio.branching_items import NODE_HEIGHT, NODE_WIDTH

    view = editor.view
    viewport = view.viewport()
    item = max(editor.node_items, key=lambda node: len(node.edges))  # the most connected
    view.resetTransform()
    if whole:
        view.fitInView(editor.scene.itemsBoundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
    view.centerOn(item)
    QApplication.processEvents()
    grab = view.mapFromScene(item.pos() + QPointF(NODE_WIDTH / 2, NODE_HEIGHT / 2))

    def send(kind: QMouseEvent.Type, point: QPoint, buttons: Qt.MouseButton) -> None:
        event = QMouseEvent(
            kind,
            QPointF(point),
            QPointF(viewport.mapToGlobal(point)),
            Qt.MouseButton.LeftButton,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)

    left = Qt.MouseButton.LeftButton
    done: list[bool] = []
    heartbeat.start(lambda: not done)
    send(QMouseEvent.Type.MouseButtonPress, grab, left)
    started = time.perf_counter()
    span = viewport.width() * 0.8

    def move() -> None:
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            timer.stop()
            send(QMouseEvent.Type.MouseButtonRelease, grab, Qt.MouseButton.NoButton)
            done.append(True)
            return
        offset = span / 2 * math.sin(2 * math.pi * elapsed / seconds)  # there and back
        send(QMouseEvent.Type.MouseMove, grab + QPoint(int(offset), int(offset / 4)), left)

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(MOUSE_MS)
    timer.timeout.connect(move)
    timer.start()
    _pump_until(lambda: bool(done), seconds + 30)
    return _summary(heartbeat.stop())


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from app.logs import configure_logging

    configure_logging("WARNING")
    app = QApplication.instance() or QApplication([])
    document = large_dialog(NODES)
    edges = sum(len(n.get("edges", [])) for n in document["nodes"])
    load_before = os.getloadavg()[0]

    empty, full = [], []
    editor = None
    for _ in range(OPENS):  # alternate, so a noisy moment hits both sides
        empty.append(_open_empty_view())
        elapsed, opened = _open_editor(document)
        full.append(elapsed)
        if editor is not None:
            editor.close()
        editor = opened
    assert editor is not None
    problems = [p for p in editor.problems if p.severity == "error"]
    if problems:
        raise RuntimeError(f"the generated dialog has errors: {problems[0].message}")
    open_s, empty_s = statistics.median(full), statistics.median(empty)
    verdict = "meets" if open_s <= OPEN_TARGET_S else "MISSES"
    print(
        f"open a {NODES}-node dialog ({edges} edges; set_document, check, first paint): "
        f"{open_s * 1000:.0f} ms (empty graph view shown and painted: {empty_s * 1000:.0f} ms, "
        f"ratio {open_s / empty_s:.1f}x); median of {OPENS} - {verdict} the "
        f"{OPEN_TARGET_S:.0f} s target"
    )

    heartbeat = Heartbeat()
    heartbeat.start(lambda: True)
    end = time.monotonic() + DRAG_S
    _pump_until(lambda: time.monotonic() > end, DRAG_S + 5)
    idle = _summary(heartbeat.stop())

    print(
        f"idle loop (baseline): longest gap between {HEARTBEAT_MS} ms beats "
        f"{idle['max_gap_ms']:.1f} ms, p99 {idle['p99_gap_ms']:.1f} ms"
    )
    for whole, label in ((False, "at 1:1"), (True, "zoomed out to the whole dialog")):
        before = editor.undo_stack.count()
        drag = _drag(editor, DRAG_S, heartbeat, whole)
        steps = editor.undo_stack.count() - before
        verdict = "meets" if drag["stall_ms"] < STALL_TARGET_MS else "MISSES"
        print(
            f"longest stall while dragging a node for {DRAG_S:.0f} s {label}: "
            f"{drag['stall_ms']:.1f} ms (longest gap {drag['max_gap_ms']:.1f} ms, p99 "
            f"{drag['p99_gap_ms']:.1f} ms, {int(drag['beats'])} beats; "
            f"{drag['max_gap_ms'] / idle['max_gap_ms']:.1f}x idle) - {verdict} the "
            f"{STALL_TARGET_MS:.0f} ms target; the drag is {steps} undo step(s)"
        )
    print(
        f"machine load (1-min average): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    editor.close()
    del app


if __name__ == "__main__":
    main()
