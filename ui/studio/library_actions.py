"""What the Studio's two lists (scenarios, tracks) do alike to the row selected: act on it
through their service, delete a draft after confirming, and say the outcome above the list.

A mixin for the two panes (ui/studio_pane.py, ui/studio_tracks.py): each says how its rows are
named (`subject`) and keeps its own table, model and buttons.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from PySide6.QtWidgets import QLabel, QMessageBox, QTableView

from ui.context import AppContext
from ui.errors import plain_message
from ui.widgets.confirm import confirm_destructive

Item = TypeVar("Item")


class LibraryActions(Generic[Item]):
    ctx: AppContext
    service: Any
    message: QLabel
    table: QTableView
    items: list[Item]
    confirm_box: QMessageBox | None
    DRAFT_NAME = "draft"  # how a deletable row is called: "draft", "draft track"
    DELETE_BOX = "deleteDraft"  # the confirmation's object name (tests find it by it)

    def subject(self, item: Item) -> tuple[str, str]:
        """The row's id for the service, and its title for people."""
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

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
