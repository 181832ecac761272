"""The Studio's Tracks tab against the real stack: an admin creates a track of three scenarios,
reorders it by dragging (the list's model moves the row, as a drop does) and from the keyboard,
publishes it, and reopening it shows that order."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from app.client.studio import Status

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
COLD, CFO, INCUMBENT = (f"f0000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
TITLE = "UI: three calls in order"
SLOW = 30_000


def _add(editor, scenario_id: str) -> None:
    combo = editor.candidates
    index = next(i for i in range(combo.count()) if combo.itemData(i).id == scenario_id)
    combo.setCurrentIndex(index)
    editor.add_button.click()


def test_an_admin_orders_a_track_by_drag_and_keyboard_publishes_and_reopens_it(
    window, sign_in, qtbot, db
):
    (started,) = db.execute("select now()").fetchone()
    sign_in(window, "admin")
    studio = window.studio
    window.workspace.setCurrentWidget(studio)
    studio.tabs.setCurrentWidget(studio.tracks)
    panel = studio.tracks
    try:
        panel.new_button.click()
        qtbot.waitUntil(lambda: panel.editor is not None, timeout=SLOW)
        editor = panel.editor
        qtbot.waitUntil(lambda: editor.candidates.count() > 0, timeout=SLOW)
        editor.title.setText(TITLE)
        for scenario_id in (COLD, CFO, INCUMBENT):
            _add(editor, scenario_id)
        assert editor.scenario_ids() == [COLD, CFO, INCUMBENT]

        # Drag the last one to the top: an internal move is the model's moveRows.
        model = editor.order.model()
        assert model.moveRows(QModelIndex(), 2, 1, QModelIndex(), 0)
        assert editor.scenario_ids() == [INCUMBENT, COLD, CFO]
        # Then the keyboard: the first one down one place (Alt+Down), and Move up back again.
        editor.order.setCurrentRow(0)
        editor.activateWindow()
        qtbot.waitUntil(editor.isActiveWindow, timeout=SLOW)
        qtbot.keyClick(editor.order, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
        assert editor.scenario_ids() == [COLD, INCUMBENT, CFO]
        assert editor.order.currentRow() == 1
        editor.down_button.click()
        assert editor.scenario_ids() == [COLD, CFO, INCUMBENT]
        editor.up_button.click()
        assert editor.scenario_ids() == [COLD, INCUMBENT, CFO]

        editor.publish_button.click()
        qtbot.waitUntil(lambda: editor.message.text() == "Published.", timeout=SLOW)
        assert editor.status_label.text() == "Status: published"
        editor.close_button.click()

        def listed():
            return next((i for i in panel.items if i.track.title == TITLE), None)

        qtbot.waitUntil(
            lambda: listed() is not None and listed().status is Status.PUBLISHED, timeout=SLOW
        )
        item = listed()
        assert [s.id for s in item.scenarios] == [COLD, INCUMBENT, CFO]
        row = panel.items.index(item)
        assert panel.model.index(row, 2).data() == "3"
        assert panel.model.index(row, 3).data() == "Adam Admin"
        panel.table.selectRow(row)
        assert panel.archive_button.isEnabled() and not panel.publish_button.isEnabled()
        reopened = panel.edit_selected()
        assert reopened is not None and reopened.scenario_ids() == [COLD, INCUMBENT, CFO]
        reopened.close_button.click()
    finally:
        db.execute(
            "delete from public.tracks where org_id = %s and created_at >= %s",
            (DEMO_ORG, started),
        )


def test_a_draft_track_is_deleted_only_after_confirming(window, sign_in, qtbot, db):
    (started,) = db.execute("select now()").fetchone()
    sign_in(window, "admin")
    studio = window.studio
    window.workspace.setCurrentWidget(studio)
    studio.tabs.setCurrentWidget(studio.tracks)
    panel = studio.tracks
    try:
        track_id = panel.service.create("UI: a track to delete")
        panel.refresh()
        qtbot.waitUntil(lambda: track_id in [t.track.id for t in panel.items], timeout=SLOW)
        panel.table.selectRow([t.track.id for t in panel.items].index(track_id))
        panel.delete_selected()
        box = panel.confirm_box
        assert box is not None and box.objectName() == "deleteTrack"
        assert "“UI: a track to delete”" in box.text()
        next(b for b in box.buttons() if b.text() == "Delete draft").click()
        qtbot.waitUntil(lambda: panel.message.text() == "Draft track deleted.", timeout=SLOW)
        qtbot.waitUntil(lambda: track_id not in [t.track.id for t in panel.items], timeout=SLOW)
        assert db.execute("select 1 from tracks where id = %s", (track_id,)).fetchone() is None
    finally:
        db.execute(
            "delete from public.tracks where org_id = %s and created_at >= %s", (DEMO_ORG, started)
        )
