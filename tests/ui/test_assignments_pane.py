"""The manager's Assignments tab against the real stack: several assigned at once, each person's
status, a due date and note edited, an assignment cancelled; the server follows each change."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from app.client.assignments import Progress
from app.client.views import NewAssignment

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE2 = "a0000000-0000-4000-8000-000000000002"
SMB_WEST = "e0000000-0000-4000-8000-000000000002"
COLD_CALL = "f0000000-0000-4000-8000-000000000001"


def _server(db, assignment_id: str):
    return db.execute(
        "select note, due_at from public.assignments where id = %s", (assignment_id,)
    ).fetchone()


def test_a_manager_follows_edits_and_cancels_what_they_assigned(window, sign_in, qtbot, db):
    sign_in(window, "manager")
    backend = window.ctx.backend
    ids = backend.create_assignments(
        [
            NewAssignment(COLD_CALL, None, TRAINEE2, None, None, "first call"),
            NewAssignment(COLD_CALL, None, None, SMB_WEST, None, "the team's"),
        ]
    )
    try:
        pane = window.assignments
        window.workspace.setCurrentWidget(pane)
        qtbot.waitUntil(lambda: set(ids) <= {a.id for a in pane.rows}, timeout=30_000)
        team_members = {
            row[0]
            for row in db.execute(
                "select user_id::text from public.team_members where team_id = %s", (SMB_WEST,)
            )
        }
        shown = {a.id: a for a in pane.rows}
        assert [p.user_id for p in shown[ids[0]].people] == [TRAINEE2]
        assert {p.user_id for p in shown[ids[1]].people} == team_members
        assert shown[ids[1]].assignee.startswith("Team ")
        for person in shown[ids[1]].people:
            assert person.progress in (Progress.NOT_STARTED, Progress.IN_PROGRESS, Progress.PASSED)
        qtbot.waitUntil(lambda: all(_server(db, i) is not None for i in ids), timeout=30_000)

        row = [a.id for a in pane.rows].index(ids[0])
        pane.table.selectRow(row)
        assert pane.people.rows[0].user_id == TRAINEE2
        dialog = pane.edit_selected()
        assert dialog is not None and dialog.note.text() == "first call"
        dialog.no_due.setChecked(False)
        dialog.note.setText("call before Friday")
        dialog.buttons.accepted.emit()
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
        qtbot.waitUntil(lambda: _server(db, ids[0])[0] == "call before Friday", timeout=30_000)
        assert _server(db, ids[0])[1] is not None  # the due date went with the note

        pane.table.selectRow([a.id for a in pane.rows].index(ids[1]))
        box = pane.cancel_selected()
        assert box is not None and box.objectName() == "cancelAssignment"
        [cancel] = [b for b in box.buttons() if b.text() == "Cancel assignment"]
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
        cancel.click()
        qtbot.waitUntil(lambda: ids[1] not in {a.id for a in pane.rows}, timeout=30_000)
        qtbot.waitUntil(lambda: _server(db, ids[1]) is None, timeout=30_000)
    finally:
        db.execute("delete from public.assignments where id = any(%s::uuid[])", (ids,))
