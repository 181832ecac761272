"""The branching editor's undoable edits: a whole-document change, and a move that merges.

An edit that changes the dialog (a node added, an id renamed, a condition changed) keeps the
document as it was and as it becomes, so undo and redo restore it exactly, keys the editor does
not know included. Moves are frequent (every mouse move of a drag), so they keep only positions,
and a drag's moves merge into one command.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Protocol

from PySide6.QtGui import QUndoCommand

Selection = tuple[Any, ...] | None  # ("node", index) or ("edge", node index, edge index)
Position = tuple[float, float]

_MOVE_ID = 1  # QUndoCommand.id(): the same for every move, so the stack offers to merge them
_gestures = itertools.count(1)


def new_gesture() -> int:
    """An id for one drag (or one run of arrow-key moves): its moves merge into one command."""
    return next(_gestures)


class Target(Protocol):
    """What the commands change: the editor."""

    def restore(self, document: dict[str, Any], selection: Selection) -> None: ...

    def place(self, positions: dict[int, Position]) -> None: ...


class EditCommand(QUndoCommand):
    def __init__(
        self,
        target: Target,
        text: str,
        before: dict[str, Any],
        after: dict[str, Any],
        selection_before: Selection,
        selection_after: Selection,
    ) -> None:
        super().__init__(text)
        self._target = target
        self._before = before
        self._after = after
        self._selection_before = selection_before
        self._selection_after = selection_after

    def redo(self) -> None:
        self._target.restore(copy.deepcopy(self._after), self._selection_after)

    def undo(self) -> None:
        self._target.restore(copy.deepcopy(self._before), self._selection_before)


class MoveCommand(QUndoCommand):
    """Nodes (by index) from their old to their new positions; merges moves of one gesture."""

    def __init__(
        self, target: Target, gesture: int, moves: dict[int, tuple[Position, Position]]
    ) -> None:
        super().__init__("Move node" if len(moves) == 1 else "Move nodes")
        self._target = target
        self.gesture = gesture
        self.moves = dict(moves)

    def id(self) -> int:
        return _MOVE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveCommand) or other.gesture != self.gesture:
            return False
        for index, (old, new) in other.moves.items():
            self.moves[index] = (self.moves.get(index, (old, new))[0], new)
        self.setText("Move node" if len(self.moves) == 1 else "Move nodes")
        return True

    def redo(self) -> None:
        self._target.place({index: new for index, (_, new) in self.moves.items()})

    def undo(self) -> None:
        self._target.place({index: old for index, (old, _) in self.moves.items()})
