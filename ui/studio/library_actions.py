"""What the Studio's two lists (scenarios, tracks) do alike: show their rows (opening a new
draft in the editor once it is listed), follow the data they show, act on the row selected
through their service, delete a draft after confirming, and say the outcome above the list.

A mixin for the two panes (ui/studio_pane.py, ui/studio_tracks.py): each says how its rows are
named (`subject`) and keeps its own table, model and buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtWidgets import QLabel, QMessageBox, QTableView

from app.client.views import Changes
from ui.context import AppContext
from ui.errors import plain_message
from ui.widgets.confirm import confirm_destructive

Item = TypeVar("Item")


class LibraryActions(Generic[Item]):
    ctx: AppContext
    service: Any
    message: QLabel
    table: QTableView
    model: Any  # a ui.models.RowTableModel of Item
    items: list[Item]
    confirm_box: QMessageBox | None
    DRAFT_NAME = "draft"  # how a deletable row is called: "draft", "draft track"
    DELETE_BOX = "deleteDraft"  # the confirmation's object name (tests find it by it)
    DATA: tuple[str, ...] = ()  # the tables whose changes the list shows (ctx.changes)
    _edit_when_listed: str | None = None  # a new draft, opened once the list shows it

    def subject(self, item: Item) -> tuple[str, str]:
        """The row's id for the service, and its title for people."""
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def edit_selected(self) -> object:
        raise NotImplementedError

    def _selected(self, _index: Any, _previous: Any = None) -> None:
        raise NotImplementedError

    def show_items(self, items: list[Item]) -> None:
        self.items = items
        self.model.set_rows(items)
        self._selected(self.table.currentIndex())
        ids = [self.subject(item)[0] for item in items]
        waiting = self._edit_when_listed
        if waiting is not None and waiting in ids:
            self._edit_when_listed = None
            self.table.selectRow(ids.index(waiting))
            self.edit_selected()

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch(*self.DATA):  # type: ignore[attr-defined]
            self.refresh()

    def _create_then_edit(self, create: Callable[[], str], label: str, said: str) -> None:
        """A new draft from `create` (its id), opened in the editor as soon as it is listed."""

        def created(new_id: str) -> None:
            self._edit_when_listed = new_id
            self._say_then_refresh(said)

        self.ctx.call(self, create, created, label=label, on_failure=self._say)  # type: ignore[arg-type]

    def selected(self) -> Item | None:
        row = self.table.currentIndex().row()
        return self.items[row] if 0 <= row < len(self.items) else None

    def delete_selected(self) -> None:
        item = self.selected()
        if item is None:
            return
        _id, title = self.subject(item)
        name = self.DRAFT_NAME
        self.confirm_box = confirm_destructive(
            self,  # type: ignore[arg-type]  # the QWidget this is mixed into
            name=self.DELETE_BOX,
            title=f"Delete {name}",
            text=f"Delete the {name} “{title}”? This cannot be undone.",
            action="Delete draft",
            on_confirm=lambda: self.ctx.call(
                self,  # type: ignore[arg-type]
                lambda: self.service.delete_draft(item),
                lambda _none: self._say_then_refresh(f"{name.capitalize()} deleted."),
                on_failure=self._say,
            ),
        )

    def _act(self, action: str, done: str) -> None:
        item = self.selected()
        if item is None:
            return
        item_id, title = self.subject(item)
        work = getattr(self.service, action)
        self.ctx.call(
            self,  # type: ignore[arg-type]
            lambda: work(item_id),
            lambda _result: self._say_then_refresh(f"“{title}”: {done}"),
            label="Saving…",
            on_failure=self._say,
        )

    def _say_then_refresh(self, text: str) -> None:
        self.message.setText(text)
        self.refresh()

    def _say(self, error: BaseException) -> None:
        self.message.setText(plain_message(error))
