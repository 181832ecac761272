"""Qt item models over the rows `Backend` returns: assignments, attempts, leaderboard, transcript.

One generic table model takes a list of `Column`s, so each table is a column list rather than a
copy of `data()`; `ROW_ROLE` gives a view the row object behind an index, `SORT_ROLE` the raw
value to sort by (numbers as numbers, times as times).

Refreshing a model with new rows changes only what changed: screens refresh after every sync,
and resetting a model makes its view drop the selection and measure and paint every row again
on the GUI thread (a transcript list of a ten-minute call: ~20 ms, for rows that did not change).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QFont

from app.client.formatting import clock, due_text, local_time, score_text
from app.client.views import Assignment, AttemptRow, LeaderRow, utc_now
from ui.theme import LIGHT, Colors

R = TypeVar("R")
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column(Generic[R]):
    title: str
    text: Callable[[R], str]
    sort: Callable[[R], Any] | None = None
    align_right: bool = False
    tooltip: Callable[[R], str | None] | None = None


class RowTableModel(QAbstractTableModel, Generic[R]):
    """A read-only table of row objects; `emphasis(row)` picks the row's colour and weight."""

    def __init__(self, columns: Sequence[Column[R]], colors: Colors = LIGHT) -> None:
        super().__init__()
        self._columns = list(columns)
        self._rows: list[R] = []
        self.colors = colors

    @property
    def rows(self) -> list[R]:
        return list(self._rows)

    def set_rows(self, rows: Sequence[R]) -> None:
        """Show `rows`: rows matched by `row_key` are updated in place, others removed or
        inserted where they go, so a view keeps its selection and scroll position and lays out
        only what changed. Rows without distinct keys replace the old ones wholesale (a reset)."""
        new = list(rows)
        old_keys, new_keys = self._keys(self._rows), self._keys(new)
        if old_keys is None or new_keys is None or not self._rows or not new:
            self.beginResetModel()
            self._rows = new
            self.endResetModel()
            return
        shift = 0  # how far the rows still to visit moved from their old index
        opcodes = SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes()
        for tag, old_start, old_end, new_start, new_end in opcodes:
            at = old_start + shift
            if tag == "equal":
                self._update_rows(at, new[new_start:new_end])
            else:
                self._remove_rows(at, old_end - old_start)
                self._insert_rows(at, new[new_start:new_end])
            shift += (new_end - new_start) - (old_end - old_start)

    def row_key(self, row: R) -> Hashable | None:
        """What identifies a row from one refresh to the next: its id (None: not known)."""
        if isinstance(row, Mapping):
            return row.get("id")
        return getattr(row, "id", None)

    def _keys(self, rows: Sequence[R]) -> list[Hashable] | None:
        keys = [self.row_key(row) for row in rows]
        try:
            distinct = len(set(keys)) == len(keys)
        except TypeError:  # a key that cannot be hashed cannot match rows either
            return None
        return keys if distinct and None not in keys else None

    def _update_rows(self, at: int, rows: Sequence[R]) -> None:
        """Replace rows from `at` on, signalling each run of rows whose values changed."""
        changed = [at + offset for offset, row in enumerate(rows) if self._rows[at + offset] != row]
        self._rows[at : at + len(rows)] = rows
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self._columns) - 1))

    def _remove_rows(self, at: int, count: int) -> None:
        if count:
            self.beginRemoveRows(QModelIndex(), at, at + count - 1)
            del self._rows[at : at + count]
            self.endRemoveRows()

    def _insert_rows(self, at: int, rows: Sequence[R]) -> None:
        if rows:
            self.beginInsertRows(QModelIndex(), at, at + len(rows) - 1)
            self._rows[at:at] = rows
            self.endInsertRows()

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1)
            )

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            value = column.sort(row) if column.sort else column.text(row)
            return _sortable(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip:
            return column.tooltip(row)
        return self._emphasis_data(row, role)

    def emphasis(self, row: R) -> tuple[str | None, str | None, bool]:
        """(foreground colour name, background colour name, bold) for a row; none by default."""
        return None, None, False

    def _emphasis_data(self, row: R, role: int) -> Any:
        foreground, background, bold = self.emphasis(row)
        if role == Qt.ItemDataRole.ForegroundRole and foreground:
            return QBrush(self.colors.q(foreground))
        if role == Qt.ItemDataRole.BackgroundRole and background:
            return QBrush(self.colors.q(background))
        if role == Qt.ItemDataRole.FontRole and bold:
            font = QFont()
            font.setBold(True)
            return font
        return None


def _runs(indexes: Sequence[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive numbers in ascending `indexes`."""
    runs: list[tuple[int, int]] = []
    for index in indexes:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _sortable(value: Any) -> Any:
    # QVariant cannot compare Decimal or aware datetimes; floats and timestamps sort the same.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return value.toordinal()
    if value is None:
        return float("-inf")
    return value


# Assignments ------------------------------------------------------------------------------------
class AssignmentsModel(RowTableModel[Assignment]):
    """Due assignments, soonest first; overdue ones in the overdue colour and bold."""

    def __init__(self, colors: Colors = LIGHT, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now
        super().__init__(
            [
                Column("Assignment", lambda a: a.title, tooltip=lambda a: a.note or None),
                Column("Type", lambda a: "Track" if a.kind == "track" else "Scenario"),
                Column(
                    "Due",
                    lambda a: "Completed" if a.done else due_text(a.due_at, self._now()),
                    sort=lambda a: a.due_at,
                ),
                Column(
                    "Progress",
                    lambda a: f"{a.completed} of {a.total} passed",
                    sort=lambda a: a.completed / max(a.total, 1),
                ),
                Column(
                    "Best score",
                    lambda a: score_text(a.best_score),
                    sort=lambda a: a.best_score,
                    align_right=True,
                ),
            ],
            colors,
        )

    def emphasis(self, row: Assignment) -> tuple[str | None, str | None, bool]:
        if row.overdue(self._now()):
            return "overdue", None, True
        if row.done:
            return "good", None, False
        return None, None, False


# Attempts ---------------------------------------------------------------------------------------
def attempt_columns(*, with_person: bool) -> list[Column[AttemptRow]]:
    columns: list[Column[AttemptRow]] = [
        Column("When", lambda a: local_time(a.started_at), sort=lambda a: a.started_at),
    ]
    if with_person:
        columns.append(Column("Person", lambda a: a.person))
    columns += [
        Column("Scenario", lambda a: a.scenario_title),
        Column(
            "Length",
            lambda a: clock(a.duration_seconds),
            sort=lambda a: a.duration_seconds,
            align_right=True,
        ),
        Column(
            "Score",
            lambda a: score_text(a.score, provisional=a.provisional),
            sort=lambda a: a.score,
            align_right=True,
            tooltip=lambda a: (
                "Computed on this computer; the server's score replaces it after sync."
                if a.provisional
                else None
            ),
        ),
        Column("Sync", lambda a: a.sync_state.label),
    ]
    return columns


class AttemptsModel(RowTableModel[AttemptRow]):
    def __init__(self, *, with_person: bool, colors: Colors = LIGHT) -> None:
        super().__init__(attempt_columns(with_person=with_person), colors)

    def emphasis(self, row: AttemptRow) -> tuple[str | None, str | None, bool]:
        if row.provisional:
            return "muted", None, False
        return None, None, False


class AttemptFilterProxy(QSortFilterProxyModel):
    """The manager's filters: person, team, scenario, date range and score range."""

    def __init__(self) -> None:
        super().__init__()
        self.setSortRole(SORT_ROLE)
        self.person: str | None = None
        self.team: str | None = None
        self.scenario: str | None = None
        self.since: date | None = None
        self.until: date | None = None
        self.min_score: Decimal | None = None
        self.max_score: Decimal | None = None

    def set_filters(self, **filters: Any) -> None:
        self.beginFilterChange()
        for name, value in filters.items():
            if not hasattr(self, name):
                raise AttributeError(f"unknown filter {name!r}")
            setattr(self, name, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        row: AttemptRow = self.sourceModel().index(source_row, 0, source_parent).data(ROW_ROLE)
        day = row.started_at.astimezone().date()
        checks = (
            self.person is None or row.user_id == self.person,
            self.team is None or self.team in row.team_ids,
            self.scenario is None or row.scenario_id == self.scenario,
            self.since is None or day >= self.since,
            self.until is None or day <= self.until,
            self.min_score is None or (row.score is not None and row.score >= self.min_score),
            self.max_score is None or (row.score is not None and row.score <= self.max_score),
        )
        return all(checks)


# Leaderboard ------------------------------------------------------------------------------------
class LeaderboardModel(RowTableModel[LeaderRow]):
    def __init__(self, colors: Colors = LIGHT) -> None:
        super().__init__(
            [
                Column("Rank", lambda r: str(r.rank), sort=lambda r: r.rank, align_right=True),
                Column("Name", lambda r: f"{r.display_name} (you)" if r.is_me else r.display_name),
                Column(
                    "Attempts",
                    lambda r: str(r.attempts),
                    sort=lambda r: r.attempts,
                    align_right=True,
                ),
                Column(
                    "Average",
                    lambda r: score_text(r.avg_score),
                    sort=lambda r: r.avg_score,
                    align_right=True,
                ),
                Column(
                    "Best",
                    lambda r: score_text(r.best_score),
                    sort=lambda r: r.best_score,
                    align_right=True,
                ),
                Column(
                    "Passed",
                    lambda r: str(r.passed_attempts),
                    sort=lambda r: r.passed_attempts,
                    align_right=True,
                ),
            ],
            colors,
        )

    def emphasis(self, row: LeaderRow) -> tuple[str | None, str | None, bool]:
        return (None, "highlight_row", True) if row.is_me else (None, None, False)

    def row_key(self, row: LeaderRow) -> Hashable | None:
        return row.user_id

    def own_row(self) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.is_me), None)


# Transcript -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TranscriptTurn:
    speaker: str  # "rep" or "persona"
    start: float
    end: float
    text: str


def transcript_turns(transcript: Mapping[str, Any]) -> list[TranscriptTurn]:
    return [
        TranscriptTurn(
            str(t.get("speaker", "")),
            float(t.get("start", 0)),
            float(t.get("end", 0)),
            str(t.get("text", "")),
        )
        for t in transcript.get("turns", [])
        if isinstance(t, Mapping)
    ]


class TranscriptModel(QAbstractListModel):
    """Turns as "0:12  Dana: …"; the persona's name and "You" stand for the two speakers."""

    def __init__(self, persona_name: str = "Persona") -> None:
        super().__init__()
        self._turns: list[TranscriptTurn] = []
        self._persona = persona_name

    @property
    def turns(self) -> list[TranscriptTurn]:
        return list(self._turns)

    def set_turns(self, turns: Sequence[TranscriptTurn], persona_name: str | None = None) -> None:
        """Show `turns`. The turns shown, with perhaps more after them (a refresh of the same
        attempt, a call going on), keep their rows: only new turns are inserted."""
        new = list(turns)
        if new[: len(self._turns)] != self._turns:
            self.beginResetModel()
            self._turns = new
            if persona_name:
                self._persona = persona_name
            self.endResetModel()
            return
        if persona_name and persona_name != self._persona:
            self._persona = persona_name
            if self._turns:
                self.dataChanged.emit(self.index(0), self.index(len(self._turns) - 1))
        if len(new) > len(self._turns):
            self.beginInsertRows(QModelIndex(), len(self._turns), len(new) - 1)
            self._turns = new
            self.endInsertRows()

    def append(self, turn: TranscriptTurn) -> None:
        row = len(self._turns)
        self.beginInsertRows(QModelIndex(), row, row)
        self._turns.append(turn)
        self.endInsertRows()

    def speaker_name(self, turn: TranscriptTurn) -> str:
        return "You" if turn.speaker == "rep" else self._persona

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._turns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        turn = self._turns[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{clock(turn.start)}  {self.speaker_name(turn)}: {turn.text or '…'}"
        if role == ROW_ROLE:
            return turn
        if role == Qt.ItemDataRole.FontRole and turn.speaker == "rep":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{self.speaker_name(turn)} at {clock(turn.start)}: {turn.text}"
        return None
