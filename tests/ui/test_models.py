"""Models refresh in place: rows matched by id are updated, inserted or removed, never reset.

A view on top (a filter proxy keeps its own row mapping, built from the model's signals) must
see exactly the rows given after every refresh, and an index kept on a row must follow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QTableView

from ui.models import Column, RowTableModel, TranscriptModel, TranscriptTurn

DISPLAY = Qt.ItemDataRole.DisplayRole


@dataclass(frozen=True)
class Row:
    id: str
    value: int


COLUMNS = [Column("Id", lambda r: r.id), Column("Value", lambda r: str(r.value))]


class Signals:
    """What a model announced, by kind."""

    def __init__(self, model) -> None:
        self.seen: list[tuple] = []
        model.modelReset.connect(lambda: self.seen.append(("reset",)))
        model.rowsInserted.connect(
            lambda _p, first, last: self.seen.append(("insert", first, last))
        )
        model.rowsRemoved.connect(lambda _p, first, last: self.seen.append(("remove", first, last)))
        model.dataChanged.connect(
            lambda top, bottom, _roles=(): self.seen.append(("changed", top.row(), bottom.row()))
        )


def _shown(model) -> list[tuple[str, str]]:
    return [
        (model.index(r, 0).data(DISPLAY), model.index(r, 1).data(DISPLAY))
        for r in range(model.rowCount())
    ]


def _rows(pairs: list[tuple[str, int]]) -> list[Row]:
    return [Row(key, value) for key, value in pairs]


def test_a_refresh_updates_changed_rows_in_place_and_keeps_the_selection(qtbot):
    model: RowTableModel[Row] = RowTableModel(COLUMNS)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.set_rows(_rows([("a", 1), ("b", 2), ("c", 3)]))
    view.selectRow(1)
    signals = Signals(model)
    model.set_rows(_rows([("a", 1), ("b", 20), ("c", 3)]))
    assert signals.seen == [("changed", 1, 1)]
    assert view.currentIndex().row() == 1
    # The same rows again: nothing to announce.
    model.set_rows(_rows([("a", 1), ("b", 20), ("c", 3)]))
    assert signals.seen == [("changed", 1, 1)]


def test_new_and_gone_rows_are_inserted_and_removed_where_they_are(qtbot):
    model: RowTableModel[Row] = RowTableModel(COLUMNS)
    model.set_rows(_rows([("a", 1), ("b", 2), ("c", 3)]))
    kept = QPersistentModelIndex(model.index(2, 0))
    signals = Signals(model)
    model.set_rows(_rows([("new", 0), ("a", 1), ("c", 3)]))  # a new attempt on top, b gone
    assert signals.seen == [("insert", 0, 0), ("remove", 2, 2)]
    assert kept.row() == 2 and kept.data(DISPLAY) == "c"
    assert _shown(model) == [("new", "0"), ("a", "1"), ("c", "3")]


def test_rows_without_distinct_ids_are_replaced_with_a_reset(qtbot):
    model: RowTableModel[dict] = RowTableModel(
        [Column("Label", lambda c: c["label"]), Column("Score", lambda c: str(c["score"]))]
    )
    model.set_rows([{"label": "x", "score": 1}])
    signals = Signals(model)
    model.set_rows([{"label": "x", "score": 2}])
    assert signals.seen == [("reset",)]
    model.set_rows([{"id": "k", "label": "x", "score": 2}, {"id": "k", "label": "y", "score": 3}])
    assert signals.seen == [("reset",), ("reset",)]
    assert _shown(model) == [("x", "2"), ("y", "3")]


keys = st.sampled_from("abcdefgh")
row_lists = st.lists(st.tuples(keys, st.integers(0, 3)), max_size=8, unique_by=lambda p: p[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(row_lists, min_size=1, max_size=6))
def test_any_sequence_of_refreshes_keeps_model_and_view_in_step(qapp, refreshes):
    model: RowTableModel[Row] = RowTableModel(COLUMNS)
    view = QSortFilterProxyModel()  # keeps its own row mapping, fed by the model's signals
    view.setSourceModel(model)
    kept: list[tuple[str, QPersistentModelIndex]] = []
    for pairs in refreshes:
        model.set_rows(_rows(pairs))
        expected = [(key, str(value)) for key, value in pairs]
        assert _shown(model) == expected
        assert _shown(view) == expected
        for key, index in kept:  # an index kept on a row points at that row, or at none
            assert not index.isValid() or index.data(DISPLAY) == key
        kept = [
            (row.id, QPersistentModelIndex(model.index(r, 0))) for r, row in enumerate(model.rows)
        ]


def _turn(n: int) -> TranscriptTurn:
    return TranscriptTurn("rep" if n % 2 else "persona", float(n), n + 0.5, f"turn {n}")


def test_the_transcript_keeps_its_rows_when_the_same_turns_come_again(qtbot):
    model = TranscriptModel("Dana")
    model.set_turns([_turn(0), _turn(1)])
    signals = Signals(model)
    model.set_turns([_turn(0), _turn(1)], "Dana")  # a refresh of the attempt shown
    assert signals.seen == []
    model.set_turns([_turn(0), _turn(1), _turn(2)])  # the call went on
    assert signals.seen == [("insert", 2, 2)]
    model.set_turns([_turn(0), _turn(1), _turn(2)], "Sam")  # another persona's name
    assert signals.seen[-1] == ("changed", 0, 2)
    assert model.index(0).data(DISPLAY).endswith("Sam: turn 0")
    model.set_turns([_turn(5)])  # another attempt
    assert signals.seen[-1] == ("reset",)
    assert model.turns == [_turn(5)]
