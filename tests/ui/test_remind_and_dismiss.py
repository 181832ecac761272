"""Reminders through the screens against the real stack: a manager reminds from the Assignments
tab (a second reminder within the hour is refused in words), and the trainee's home shows it
after their sync, with Dismiss."""

from __future__ import annotations

from app.client.views import NewAssignment

TARA = "a0000000-0000-4000-8000-000000000001"
CFO = "f0000000-0000-4000-8000-000000000002"  # Tara has not passed it


def _read_at(db, assignment_id: str) -> list:
    return [
        row[0]
        for row in db.execute(
            "select read_at from public.notifications where assignment_id = %s", (assignment_id,)
        )
    ]


def test_a_manager_reminds_and_the_trainee_sees_it_on_home_and_dismisses_it(
    window, sign_in, qtbot, db
):
    sign_in(window, "manager")
    assignment_id = window.ctx.backend.create_assignment(
        NewAssignment(CFO, None, TARA, None, None, "")
    )
    try:
        qtbot.waitUntil(lambda: _on_server(db, assignment_id), timeout=30_000)
        pane = window.assignments
        window.workspace.setCurrentWidget(pane)
        qtbot.waitUntil(lambda: assignment_id in {a.id for a in pane.rows}, timeout=30_000)
        pane.table.selectRow([a.id for a in pane.rows].index(assignment_id))
        assert pane.remind_button.isEnabled()
        pane.people_table.selectRow(0)
        dialog = pane.remind_selected()
        assert dialog is not None and dialog.only.isChecked()
        assert dialog.only.text() == "&Only Tara Trainee"
        dialog.note.setText("Before Friday's calls, please.")
        dialog.send.click()
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
        assert pane.reminded.text().startswith("Reminded 1 person of “Discovery")
        assert _read_at(db, assignment_id) == [None]

        again = pane.remind_selected()
        assert again is not None
        again.everyone.setChecked(True)
        again.send.click()
        qtbot.waitUntil(again.message.isVisible, timeout=30_000)
        assert "already reminded of this assignment in the last hour" in again.message.text()
        assert "Remind them again after" in again.message.text()
        again.reject()

        window.sign_out()
        qtbot.waitUntil(lambda: window.workspace is None, timeout=30_000)
        sign_in(window, "trainee")
        panel = window.home.reminders
        qtbot.waitUntil(lambda: bool(panel.rows), timeout=30_000)
        assert panel.isVisible()
        [row] = panel.rows
        text = row.text.text()
        assert "“Discovery: the budget-conscious CFO” · from Maya Manager" in text
        assert "“Before Friday's calls, please.”" in text
        row.dismiss_button.click()
        qtbot.waitUntil(lambda: not panel.rows and not panel.isVisible(), timeout=30_000)
        qtbot.waitUntil(lambda: _read_at(db, assignment_id) != [None], timeout=30_000)
    finally:
        db.execute("delete from public.assignments where id = %s", (assignment_id,))


def _on_server(db, assignment_id: str) -> bool:
    found = db.execute("select 1 from public.assignments where id = %s", (assignment_id,))
    return found.fetchone() is not None
