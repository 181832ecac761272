"""The graphics items of the branching editor: a node (one persona line) and an edge (an arrow
labelled with its condition), each painting its problems (app.branching_check) on itself.

Items only draw and report: a node tells the editor it moved through `moved`; the editor owns
the document and the undo stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.branching_check import Problem
from ui.theme import Colors

NODE_WIDTH = 220.0
NODE_HEIGHT = 84.0
PADDING = 8.0
ARROW_SIZE = 9.0
LABEL_CHARS = 32  # an edge's label is cut here: the inspector shows all of it
# Edges between the same two nodes bow out more and more, so each stays visible and clickable.
BOW = 28.0
BOW_STEP = 34.0
# Room for the start tag above the box and the selection pen.
NODE_BOUNDS = QRectF(-4, -22, NODE_WIDTH + 8, NODE_HEIGHT + 26)
LINE_FLAGS = int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)


def problem_color(problems: Sequence[Problem], colors: Colors) -> QColor | None:
    if any(p.severity == "error" for p in problems):
        return colors.q("bad")
    if problems:
        return colors.q("warn")
    return None


def problem_tooltip(title: str, problems: Sequence[Problem]) -> str:
    lines = [title, *(f"{p.severity.capitalize()}: {p.message}" for p in problems)]
    return "\n".join(lines)


class NodeItem(QGraphicsItem):
    """One node: its id, its persona line, a start and an end marker, its problems' colour."""

    def __init__(self, colors: Colors, moved: Callable[[NodeItem], None]) -> None:
        super().__init__()
        self.colors = colors
        self.index = 0  # the node's index in the document's "nodes"
        self.node_id = ""
        self.line = ""
        self.end = False
        self.start = False
        self.problems: list[Problem] = []
        self.edges: list[EdgeItem] = []  # in and out, to redraw when this node moves
        self._moved = moved
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setZValue(1)  # above the edges
        # A node repaints only when it changes: a drag then blits the pixmaps of the nodes it
        # passes over instead of laying out their text again.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def show_node(self, index: int, node: dict[str, Any], start: bool) -> None:
        self.index = index
        self.node_id = str(node.get("id", ""))
        self.line = str(node.get("persona_line", ""))
        self.end = node.get("end") is True
        self.start = start
        self._retip()
        self.update()

    def show_problems(self, problems: list[Problem]) -> None:
        self.problems = problems
        self._retip()
        self.update()

    def _retip(self) -> None:
        marks = [m for m, on in (("start", self.start), ("end", self.end)) if on]
        title = f"{self.node_id}{' (' + ', '.join(marks) + ')' if marks else ''}: {self.line}"
        self.setToolTip(problem_tooltip(title, self.problems))

    def center(self) -> QPointF:
        return self.pos() + QPointF(NODE_WIDTH / 2, NODE_HEIGHT / 2)

    def scene_rect(self) -> QRectF:
        return QRectF(
            self.pos(), QPointF(self.pos().x() + NODE_WIDTH, self.pos().y() + NODE_HEIGHT)
        )

    def boundingRect(self) -> QRectF:
        return NODE_BOUNDS

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        c = self.colors
        box = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)
        marker = problem_color(self.problems, c)
        border = marker or (c.q("good") if self.start else c.q("muted"))
        width = 2.5 if marker or self.start else 1.2
        if self.isSelected():
            border, width = c.q("accent"), 3.5
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(border, width))
        painter.setBrush(QBrush(c.q("base")))
        painter.drawRoundedRect(box, 8, 8)
        if self.end:  # an end node has a double frame
            painter.setPen(QPen(border, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.adjusted(4, 4, -4, -4), 5, 5)
        if marker is not None and self.isSelected():  # keep the problem visible when selected
            painter.setPen(QPen(marker, 2))
            painter.drawRoundedRect(box.adjusted(-4, -4, 4, 4), 10, 10)

        title = QFont(painter.font())
        title.setBold(True)
        painter.setFont(title)
        painter.setPen(c.q("text"))
        metrics = QFontMetricsF(title)
        text_width = NODE_WIDTH - 2 * PADDING
        heading = self.node_id + ("  · end" if self.end else "")
        painter.drawText(
            QPointF(PADDING, PADDING + metrics.ascent()),
            metrics.elidedText(heading, Qt.TextElideMode.ElideRight, text_width),
        )
        body = QFont(painter.font())
        body.setBold(False)
        painter.setFont(body)
        top = PADDING + metrics.height() + 2
        painter.drawText(
            QRectF(PADDING, top, text_width, NODE_HEIGHT - top - PADDING),
            LINE_FLAGS,
            self.line,
        )
        if self.start:
            tag = QRectF(0, -20, 54, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(c.q("good"))
            painter.drawRoundedRect(tag, 4, 4)
            painter.setPen(c.q("base"))
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, "start")

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.reroute()
            self._moved(self)
        return super().itemChange(change, value)


def _border_point(rect: QRectF, toward: QPointF) -> QPointF:
    """Where the line from the rect's centre toward a point leaves the rect."""
    center = rect.center()
    dx, dy = toward.x() - center.x(), toward.y() - center.y()
    if dx == 0 and dy == 0:
        return center
    scale = min(
        (rect.width() / 2) / abs(dx) if dx else math.inf,
        (rect.height() / 2) / abs(dy) if dy else math.inf,
    )
    return QPointF(center.x() + dx * min(scale, 1.0), center.y() + dy * min(scale, 1.0))


class EdgeItem(QGraphicsItem):
    """One edge: an arrow from its node to its target, bowed by `lane`, labelled with its
    condition ("default" for the default edge, drawn dashed)."""

    def __init__(
        self,
        colors: Colors,
        source: NodeItem,
        target: NodeItem,
        edge_index: int,
        label: str,
        default: bool,
        lane: int,
    ) -> None:
        super().__init__()
        self.colors = colors
        self.source = source
        self.target = target
        self.edge_index = edge_index
        self.label = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        self.full_label = label
        self.default = default
        self.lane = lane
        self.problems: list[Problem] = []
        self._path = QPainterPath()
        self._arrow = QPolygonF()
        self._label_rect = QRectF()
        self._bounds = QRectF()
        metrics = QFontMetricsF(QFont())
        self._label_size = (metrics.horizontalAdvance(self.label) + 8, metrics.height() + 2)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        source.edges.append(self)
        if target is not source:
            target.edges.append(self)
        self._retip()
        self.reroute()

    @property
    def node_index(self) -> int:
        return self.source.index

    def show_problems(self, problems: list[Problem]) -> None:
        self.problems = problems
        self._retip()
        self.update()

    def _retip(self) -> None:
        title = f"{self.source.node_id} → {self.target.node_id}: {self.full_label}"
        self.setToolTip(problem_tooltip(title, self.problems))

    def detach(self) -> None:
        for node in (self.source, self.target):
            if self in node.edges:
                node.edges.remove(self)

    def reroute(self) -> None:
        """Recompute the arrow after a node moved."""
        self.prepareGeometryChange()
        path = QPainterPath()
        source = self.source.scene_rect()
        if self.target is self.source:
            # A loop over the node's top edge, higher for each further loop.
            rise = 46 + BOW_STEP * self.lane
            a = QPointF(source.center().x() - 30, source.top())
            b = QPointF(source.center().x() + 30, source.top())
            path.moveTo(a)
            path.cubicTo(a + QPointF(-30, -rise), b + QPointF(30, -rise), b)
            middle = path.pointAtPercent(0.5)
            tip, back = b, b + QPointF(30, -rise)
        else:
            target = self.target.scene_rect()
            p0, p2 = source.center(), target.center()
            line = QLineF(p0, p2)
            length = max(line.length(), 1.0)
            # Bow to the left of the direction of travel: a→b and b→a take opposite sides.
            normal = QPointF(line.dy() / length, -line.dx() / length)
            control = (p0 + p2) / 2 + normal * (BOW + BOW_STEP * self.lane)
            start = _border_point(source, control)
            tip = _border_point(target, control)
            path.moveTo(start)
            path.quadTo(control, tip)
            middle = path.pointAtPercent(0.5)
            back = control
        self._path = path
        direction = QLineF(tip, back)
        angle = math.atan2(direction.dy(), direction.dx())
        spread = math.radians(25)
        self._arrow = QPolygonF(
            [
                tip,
                tip + QPointF(math.cos(angle + spread), math.sin(angle + spread)) * ARROW_SIZE,
                tip + QPointF(math.cos(angle - spread), math.sin(angle - spread)) * ARROW_SIZE,
            ]
        )
        width, height = self._label_size
        self._label_rect = QRectF(middle.x() - width / 2, middle.y() - height / 2, width, height)
        self._bounds = (
            path.boundingRect().united(self._arrow.boundingRect()).united(self._label_rect)
        ).adjusted(-4, -4, 4, 4)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)  # easy to click
        shape = stroker.createStroke(self._path)
        shape.addRect(self._label_rect)
        return shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        c = self.colors
        color = problem_color(self.problems, c) or c.q("muted")
        width = 2.5 if self.problems else 1.4
        if self.isSelected():
            color, width = c.q("accent"), 3.0
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(color, width)
        if self.default:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(QPen(color, 1))
        painter.setBrush(color)
        painter.drawPolygon(self._arrow)
        painter.setPen(QPen(color, 1))
        painter.setBrush(c.q("window"))
        painter.drawRoundedRect(self._label_rect, 4, 4)
        painter.setPen(c.q("text"))
        painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)
